"""`crm demo seed`: demo users (one per role) and a synthetic portfolio, through the importer.

The portfolio goes in through the same validated, all-or-nothing import as a real file
(marked as an initial load), so the demo data obeys every rule real data does.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from crm import audit
from crm.auth.services import create_user
from crm.clock import business_today
from crm.config import INSTANCE_DIR
from crm.db import Database
from crm.importer import import_csv
from crm.models import ImportBatch, User

DEMO_USERS = (
    ("admin@demo.crm", "admin", "系统管理员 Admin"),
    ("manager1@demo.crm", "account_manager", "王经理 Wang"),
    ("manager2@demo.crm", "account_manager", "李经理 Li"),
    ("manager3@demo.crm", "account_manager", "张经理 Zhang"),
    ("underwriter@demo.crm", "underwriter", "核保员 Zhao"),
    ("reviewer@demo.crm", "claims_reviewer", "理赔审核 Chen"),
    ("reviewer2@demo.crm", "claims_reviewer", "理赔审核 Liu"),
    ("risk@demo.crm", "risk_officer", "风控 Zhou"),
    ("cashier@demo.crm", "partner_cashier", "收银员 Sun"),
)
LOGINS_FILE = INSTANCE_DIR / "demo-logins.txt"


class DemoAlreadySeeded(Exception):
    pass


def seed_demo(
    database: Database,
    n_customers: int,
    seed: int,
    *,
    if_empty: bool = False,
    as_of: dt.date | None = None,
    progress=None,
) -> str:
    """Create the demo users and portfolio; returns the log-ins as text (also kept in instance/)."""
    from crm.demo_data import generate_portfolio

    with database.session() as session:
        # The last step of a complete seed is the claims import; a seed that was killed
        # before it is simply run again (re-importing identical rows changes nothing).
        if if_empty and session.scalar(
            select(func.count()).select_from(ImportBatch).where(ImportBatch.kind == "claims")
        ):
            text = LOGINS_FILE.read_text() if LOGINS_FILE.exists() else "(demo log-ins not recorded here)"
            raise DemoAlreadySeeded("the database has customers already; demo log-ins:\n" + text)
        existing = set(session.scalars(select(User.email)))
    actor = audit.Actor.cli("demo")
    lines = []
    with database.transaction() as session:
        for email, role, name in DEMO_USERS:
            if email in existing:
                continue
            password = secrets.token_urlsafe(9)
            create_user(session, actor, email, role, password, name, locale="en")
            lines.append(f"  {role:<16} {email:<24} {password}")
    if lines:  # kept (instance/, never in the repo) so that `make run` can show them again
        LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
        LOGINS_FILE.write_text("Demo log-ins (role, e-mail, password):\n" + "\n".join(lines) + "\n")
        LOGINS_FILE.chmod(0o600)
    managers = [e for e, r, _ in DEMO_USERS if r == "account_manager"]
    portfolio = generate_portfolio(n_customers, seed, as_of or business_today(), managers)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("customers", "policies", "claims"):
            path = Path(tmp) / f"{kind}.csv"
            getattr(portfolio, kind).to_csv(path, index=False)
            bar, update = progress(f"demo {kind}") if progress else (None, None)
            import_csv(database, kind, path, actor, initial_load=True, progress=update)
            if bar is not None:
                bar.close()
    from crm import features
    from crm.jobs.recalc import AlreadyRunning, RunRequest, recalculate

    features.modules(features.FEATURES)  # their subscribers take the run's moves, wherever the seed is called from
    try:  # the demo opens with every customer in a tier, as after a nightly run
        recalculate(database, RunRequest(as_of=as_of or business_today(), actor=actor, trigger="cli"))
    except AlreadyRunning:
        pass
    for module in features.modules(features.SEEDS):  # each feature's own demo data
        module.seed(database, actor, as_of or business_today())
    return LOGINS_FILE.read_text() if LOGINS_FILE.exists() else "demo users existed already"
