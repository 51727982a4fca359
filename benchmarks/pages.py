"""Page times with a large portfolio: single user, warm, p50/p95 per page (target p95 <= 150 ms).

Builds N customers with their policies and claims (segmentation.synthetic through the bulk
loader of benchmarks/_portfolio_db.py; not the importer), tiers, a completed tier run, review
cases and a report snapshot, then times the pages through the app (Flask's test client, so
the figures are the server's own time, without a network).

    .venv/bin/python benchmarks/pages.py [--customers 1000000] [--db sqlite|postgres] [--requests 40]

PostgreSQL: --db postgres with DATABASE_URL (or CRM_TEST_POSTGRES_URL) naming a server the
benchmark may create a database on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._portfolio_db import STAMP, frames, fresh_database, load  # noqa: E402

AS_OF = dt.date.today()
MANAGERS = 100
PASSWORD = "Bench-Password-42"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


def build(url: str, n: int) -> dict:
    """Load the portfolio and everything the pages read; returns ids the pages need."""
    from sqlalchemy import create_engine, text

    from crm.audit import Actor
    from crm.auth.services import create_user
    from crm.db import Database

    t0 = time.perf_counter()
    data = frames(n)
    customers = data["customers"]
    ids = customers["id"].to_numpy()
    rng = np.random.default_rng(5)
    customers["name"] = [SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + GIVEN[(i // 400) % 20] for i in ids]
    database = Database(url)
    with database.transaction() as session:
        create_user(session, Actor("cli", "bench"), "admin@bench.crm", "admin", PASSWORD, enforce_policy=False)
        managers = [
            create_user(
                session, Actor("cli", "bench"), f"m{k}@bench.crm", "account_manager", PASSWORD, enforce_policy=False
            ).id
            for k in range(MANAGERS)
        ]
    assigned = rng.random(len(ids)) < 0.7
    customers["account_manager_id"] = pd.array(np.where(assigned, np.array(managers)[ids % MANAGERS], 0), dtype="Int64")
    customers.loc[~assigned, "account_manager_id"] = pd.NA
    tiers = pd.DataFrame(
        {"customer_id": ids, "tier": rng.choice(["vip", "standard", "watchlist"], len(ids), p=[0.05, 0.92, 0.03])}
    )
    tiers["computed_tier"] = tiers["tier"]
    tiers["reasons"] = tiers["computed_reasons"] = "bench"  # COPY reads an empty field as NULL
    tiers["value_score"] = rng.uniform(0, 100, len(ids)).round(2)
    tiers["risk_score"] = rng.uniform(0, 100, len(ids)).round(2)
    tiers["run_id"], tiers["as_of"], tiers["updated_at"] = 1, AS_OF.isoformat(), STAMP
    claims = data["claims"]
    cases = claims.sample(n=min(len(claims), max(n // 50, 10)), random_state=1)
    review = pd.DataFrame(
        {
            "queue": "claims",
            "reason": "large_claim",
            "detail": "bench",
            "claim_id": cases["id"].to_numpy(),
            "customer_id": cases["customer_id"].to_numpy(),
            "fast_track": False,
            "risk_score": 50.0,
            "priority": rng.integers(0, 100, len(cases)),
            "sla_days": 5,
            "due_on": [(AS_OF + dt.timedelta(days=int(d))).isoformat() for d in rng.integers(-10, 10, len(cases))],
            "settings_version": "bench",
            "state": rng.choice(["open", "in_review", "closed"], len(cases)),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    load(
        url,
        {
            "customers": customers,
            "policies": data["policies"],
            "claims": claims,
            "customer_tiers": tiers,
            "review_cases": review,
        },
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tier_runs (id, mode, state, trigger, started_by, as_of, progress, customers, "
                "changed, counts, moves, queued_at) VALUES (1, 'publish', 'completed', 'cli', 'bench', "
                ":as_of, 100, :n, 0, :counts, '{}', :now)"
            ),
            {"as_of": AS_OF, "n": n, "now": dt.datetime.now(dt.UTC), "counts": tiers["tier"].value_counts().to_json()},
        )
        if url.startswith("postgresql"):
            conn.execute(text("SELECT setval('tier_runs_id_seq', 1)"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    loaded = time.perf_counter() - t0
    from crm.workspace.snapshots import take_snapshot

    t1 = time.perf_counter()
    take_snapshot(database, AS_OF, "bench", Actor("cli", "bench"))
    snapshot_s = time.perf_counter() - t1
    database.dispose()
    with_policies = data["policies"]["customer_id"].drop_duplicates().sample(200, random_state=2).tolist()
    return {
        "admin": "admin@bench.crm",
        "manager": "m7@bench.crm",
        "customers": with_policies,
        "phones": customers["phone"].sample(50, random_state=3).tolist(),
        "load_s": loaded,
        "snapshot_s": snapshot_s,
        # every bench customer has the same ID number: search for absent ones (a whole scan)
        "id_numbers": [f"1101051980010{k:04d}X" for k in range(20)],
        "refs": customers["customer_ref"].sample(20, random_state=5).tolist(),
        "manager_customers": customers[customers["account_manager_id"] == managers[7]]["id"].head(200).tolist(),
    }


def _login(client, email: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code


def _get_or_search(client, path):
    """A path is a GET; a ("/customers", "text") pair is a search, which the page POSTs."""
    if isinstance(path, str):
        return client.get(path)
    if not hasattr(client, "bench_token"):
        html = client.get(path[0]).get_data(as_text=True)
        client.bench_token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return client.post(path[0], data={"q": path[1], "csrf_token": client.bench_token})


def _time(client, paths: list, requests: int) -> tuple[float, float]:
    for path in paths[:5]:  # warm-up
        assert _get_or_search(client, path).status_code == 200, path
    times = []
    for i in range(requests):
        path = paths[i % len(paths)]
        start = time.perf_counter()
        response = _get_or_search(client, path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def measure(url: str, ids: dict, requests: int) -> list[tuple[str, float, float]]:
    from crm.app import create_app, ready_to_serve

    # Searches are rate-limited per user (crm/ratelimits.py); a benchmark times them, so it lifts the limit.
    app = create_app({"env": "test", "database_url": url, "SEARCH_RATE_LIMIT": "1000000 per minute"})
    ready_to_serve()  # as a gunicorn worker does (gunicorn.conf.py) once it has built the app
    results = []
    pages = [
        ("customer list, city filter (admin)", "admin", ["/customers?city=上海", "/customers?city=北京&tier=vip"]),
        ("customer list, tier filter (manager)", "manager", ["/customers?tier=vip", "/customers?tier=watchlist"]),
        ("search by name (admin)", "admin", [("/customers", q) for q in ("王伟", "李芳", "张")]),
        ("search by phone (admin, audited)", "admin", [("/customers", p) for p in ids["phones"]]),
        ("search by ID number (admin, audited)", "admin", [("/customers", i) for i in ids["id_numbers"]]),
        ("search by phone tail (admin)", "admin", [("/customers", p[-4:]) for p in ids["phones"]]),
        ("search by phone tail (manager)", "manager", [("/customers", p[-4:]) for p in ids["phones"]]),
        ("search by reference prefix (admin)", "admin", [("/customers", r[:-1]) for r in ids["refs"]]),
        ("customer 360 (admin)", "admin", [f"/customers/{c}" for c in ids["customers"]]),
        ("customer 360 (manager)", "manager", [f"/customers/{c}" for c in ids["manager_customers"]]),
        ("claims queue (admin)", "admin", ["/review/claims", "/review/claims?overdue=1"]),
        ("dashboard (admin)", "admin", ["/dashboard"]),
        ("dashboard (manager)", "manager", ["/dashboard"]),
    ]
    for label, who, paths in pages:
        client = app.test_client()
        _login(client, ids[who])
        p50, p95 = _time(client, paths, requests)
        results.append((label, p50, p95))
    app.extensions["crm_db"].dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    pg = os.environ.get("DATABASE_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    if args.db == "postgres" and not (pg or "").startswith("postgresql"):
        print("--db postgres needs DATABASE_URL=postgresql+psycopg://…", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        url, drop = fresh_database(args.db, tmp, pg)
        try:
            ids = build(url, args.customers)
            print(
                f"{args.db}: {args.customers:,} customers loaded in {ids['load_s']:.0f}s; "
                f"report snapshot in {ids['snapshot_s']:.1f}s"
            )
            failed = False
            for label, p50, p95 in measure(url, ids, args.requests):
                flag = "ok" if p95 <= 150 else "SLOW"
                failed |= p95 > 150
                print(f"  {label:<40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {flag}")
        finally:
            drop()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
