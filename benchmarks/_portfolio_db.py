"""Benchmark helper: load a synthetic portfolio (segmentation.synthetic) into a database fast.

Bulk loading bypasses the importer on purpose (the importer has its own benchmark): SQLite
through executemany with synchronous=OFF for the load only, PostgreSQL through COPY.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm.migrate import upgrade
from segmentation.synthetic import make_portfolio

STAMP = "2020-01-01 00:00:00.000000"
_SOURCE = {"community": "community_event", "related_trade": "other"}


def fresh_database(kind: str, tmpdir: str, pg_url: str | None) -> tuple[str, callable]:
    """An empty, migrated database; returns (url, drop)."""
    if kind == "sqlite":
        url = f"sqlite:///{tmpdir}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
        upgrade(url)
        return url, lambda: None
    url, drop = new_pg_database(pg_url)
    upgrade(url)
    return url, drop


def new_pg_database(pg_url: str, template: str | None = None) -> tuple[str, callable]:
    """A new PostgreSQL database (a copy of ``template``, if given): (url, drop)."""
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # nobody may be connected to the template meanwhile
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), drop


def copy_database(kind: str, url: str, tmpdir: str, pg_url: str | None) -> tuple[str, callable]:
    """A copy of the database at ``url`` (a run's first state again): (url, drop)."""
    if kind == "sqlite":
        source = make_url(url).database
        engine = create_engine(url)
        with engine.connect() as conn:  # everything into the main file first
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        target = f"{tmpdir}/copy-{uuid.uuid4().hex[:6]}.sqlite3"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}", lambda: os.remove(target)
    return new_pg_database(pg_url, template=make_url(url).database)


def frames(n: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """The synthetic portfolio with the columns and values our schema requires."""
    p = make_portfolio(n, seed=seed)
    c, pol, cl = p.customers.copy(), p.policies.copy(), p.claims.copy()
    ids = c["customer_id"].to_numpy()
    customers = pd.DataFrame(
        {
            "id": ids,
            "customer_ref": [f"B{i:09d}" for i in ids],
            "name": "客户" + pd.Series(ids % 1000).astype(str),
            "id_number": "110105197001010011",
            "birth_date": c["birth_date"].dt.strftime("%Y-%m-%d"),
            "gender": c["gender"].astype(str),
            "phone": "138" + pd.Series(ids % 10**8).astype(str).str.zfill(8),
            "city": c["city"].astype(str),
            "source": c["source"].astype(str).replace(_SOURCE),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    pids = pol["policy_id"].to_numpy()
    policies = pd.DataFrame(
        {
            "id": pids,
            "policy_no": [f"BP{i:010d}" for i in pids],
            "customer_id": pol["customer_id"],
            "product_code": pol["product_type"].astype(str).str.upper(),
            "product_type": pol["product_type"].astype(str),
            "start_date": pol["start_date"].dt.strftime("%Y-%m-%d"),
            "end_date": pol["end_date"].dt.strftime("%Y-%m-%d"),
            "term_years": pol["term_years"],
            "payment_mode": pol["payment_mode"].astype(str),
            "annual_premium": pol["annual_premium"].round(2),
            "status": np.where(pol["status"].astype(str) == "expired", "matured", "in_force"),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    cids = cl["claim_id"].to_numpy()
    claims = pd.DataFrame(
        {
            "id": cids,
            "claim_no": [f"BL{i:010d}" for i in cids],
            "policy_id": cl["policy_id"],
            "customer_id": cl["customer_id"],
            "loss_date": cl["loss_date"].dt.strftime("%Y-%m-%d"),
            "report_date": cl["report_date"].dt.strftime("%Y-%m-%d"),
            "status": cl["status"].astype(str),
            "claimed_amount": (cl["paid_amount"] + cl["reserve_amount"]).round(2),
            "reserve_amount": cl["reserve_amount"].round(2),
            "paid_amount": cl["paid_amount"].round(2),
            "fraud_suspected": cl["fraud_suspected"].astype(bool),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    return {"customers": customers, "policies": policies, "claims": claims}


def load(url: str, data: dict[str, pd.DataFrame]) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if url.startswith("sqlite"):
            cur.execute("PRAGMA synchronous=OFF")
        for table, frame in data.items():
            cols = ", ".join(frame.columns)
            if url.startswith("sqlite"):
                marks = ", ".join("?" * len(frame.columns))
                rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
            else:
                buf = io.StringIO()
                frame.to_csv(buf, index=False, header=False)
                buf.seek(0)
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                    while chunk := buf.read(1 << 20):
                        copy.write(chunk)
        raw.commit()
        if not url.startswith("sqlite"):
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
        engine.dispose()
