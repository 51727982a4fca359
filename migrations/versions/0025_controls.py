"""review cases: why a case opened as a code and its figures; a policy's changes each get a case

Routing stored why a case opened as an English sentence, translated at display time by
patterns over the text. A case now keeps a code (crm.review.labels.WHY) and its figures,
shown in the reader's language. Existing rows are read here, once: each sentence the routing
ever wrote becomes its code and figures; anything else (a sentence of another form) stays as
it was, in ``detail``, and is shown as written.

A policy's review cases were unique on (policy, reason), so after the case of a watchlist
customer's policy change (a void request) was decided, the next change opened none. The
change reason is now unique among active cases only (one open case per policy); the other
reasons stay once per policy. On SQLite the unique constraint goes by copying the table.

Revision ID: 0025_controls
Revises: 0024_importzh
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0025_controls"
down_revision = "0024_importzh"
branch_labels = None
depends_on = None

# The sentences routing and the sweeps wrote (crm/review/routing.py, sweep.py,
# blacklist_routing.py up to 0024), with the code each now stores.
SENTENCES = {
    "customer on the watchlist": "on_watchlist",
    "customer on the black list": "on_blacklist",
    "flagged as suspected fraud": "fraud_flagged",
    "VIP claims channel": "vip_channel",
    "customer entered the watchlist": "entered_watchlist",
    "customer entered the watchlist; cover not started": "entered_watchlist_not_started",
    "customer entered the watchlist; a void request waits": "entered_watchlist_void_request",
    "customer entered VIP": "entered_vip",
}
_DATE = r"\d{4}-\d{2}-\d{2}"
_AMOUNT = r"\d+(?:\.\d+)?"
PATTERNS = (
    ("over_large_claim", re.compile(rf"claimed (?P<amount>{_AMOUNT}) > (?P<threshold>{_AMOUNT})")),
    ("cover_after_loss", re.compile(rf"policy entered (?P<entered>{_DATE}), after the loss on (?P<loss>{_DATE})")),
    (
        "late_entry",
        re.compile(rf"entered (?P<entered>{_DATE}), (?P<days>\d+) days after the start (?P<start>{_DATE})"),
    ),
)
FORMS = {  # for the downgrade: the sentence each code's figures made
    "over_large_claim": "claimed {amount} > {threshold}",
    "cover_after_loss": "policy entered {entered}, after the loss on {loss}",
    "late_entry": "entered {entered}, {days} days after the start {start}",
}
ACTIVE = "state IN ('open','in_review','escalated')"
ONCE = "reason <> 'watchlist_policy_change'"
ACTIVE_CHANGE = f"reason = 'watchlist_policy_change' AND {ACTIVE}"
CHUNK = 5000

cases = sa.table(
    "review_cases",
    sa.column("id", sa.Integer),
    sa.column("detail", sa.String),
    sa.column("detail_code", sa.String),
    sa.column("detail_params", sa.JSON(none_as_null=True)),
)


def _parse(sentence: str) -> tuple[str, dict] | None:
    for code, pattern in PATTERNS:
        match = pattern.fullmatch(sentence)
        if match:
            params = match.groupdict()
            if "days" in params:
                params["days"] = int(params["days"])
            return code, params
    return None


def _codes_from_sentences() -> None:
    bind = op.get_bind()
    for sentence, code in SENTENCES.items():
        bind.execute(
            sa.update(cases).where(cases.c.detail == sentence).values(detail_code=code, detail_params=None, detail="")
        )
    # The sentences with figures: read a chunk of ids at a time (keyset), parsed here.
    last = 0
    stmt = sa.update(cases).where(cases.c.id == sa.bindparam("b_id"))
    stmt = stmt.values(detail_code=sa.bindparam("b_code"), detail_params=sa.bindparam("b_params"), detail="")
    while True:
        rows = bind.execute(
            sa.select(cases.c.id, cases.c.detail)
            .where(cases.c.id > last, cases.c.detail_code.is_(None), cases.c.detail != "")
            .order_by(cases.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        parsed = [(r.id, _parse(r.detail)) for r in rows]
        updates = [{"b_id": i, "b_code": p[0], "b_params": p[1]} for i, p in parsed if p]
        if updates:
            bind.execute(stmt, updates)


def _sentences_from_codes() -> None:
    bind = op.get_bind()
    for sentence, code in SENTENCES.items():
        bind.execute(sa.update(cases).where(cases.c.detail_code == code).values(detail=sentence))
    stmt = sa.update(cases).where(cases.c.id == sa.bindparam("b_id")).values(detail=sa.bindparam("b_detail"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(cases.c.id, cases.c.detail_code, cases.c.detail_params)
            .where(cases.c.id > last, cases.c.detail_code.in_(list(FORMS)))
            .order_by(cases.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        bind.execute(
            stmt, [{"b_id": r.id, "b_detail": FORMS[r.detail_code].format(**(r.detail_params or {}))} for r in rows]
        )


def upgrade() -> None:
    op.add_column("review_cases", sa.Column("detail_code", sa.String(length=40), nullable=True))
    op.add_column("review_cases", sa.Column("detail_params", sa.JSON(none_as_null=True), nullable=True))
    _codes_from_sentences()
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_review_cases_policy_reason"), type_="unique")
    op.create_index(
        "uq_review_cases_policy_reason",
        "review_cases",
        ["policy_id", "reason"],
        unique=True,
        sqlite_where=sa.text(ONCE),
        postgresql_where=sa.text(ONCE),
    )
    op.create_index(
        "uq_review_cases_policy_change_active",
        "review_cases",
        ["policy_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_CHANGE),
        postgresql_where=sa.text(ACTIVE_CHANGE),
    )


def downgrade() -> None:
    # Fails (the unique constraint) where a policy has had several change cases: the older
    # schema cannot hold them.
    _sentences_from_codes()
    op.drop_index("uq_review_cases_policy_change_active", table_name="review_cases")
    op.drop_index("uq_review_cases_policy_reason", table_name="review_cases")
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f("uq_review_cases_policy_reason"), ["policy_id", "reason"])
        batch_op.drop_column("detail_params")
        batch_op.drop_column("detail_code")
