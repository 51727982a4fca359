"""The account manager's start page: today's work on their own customers, each block linking on."""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.auth.login import roles_required
from crm.clock import business_today
from crm.db import get_session
from crm.ui import NavItem
from crm.workspace import bp, snapshots, today, visits, warnings

NAV = [NavItem("workspace.today_page", _l("Today"))]
WATCHED_MOVES = ("vip", "watchlist")


@bp.get("/today")
@roles_required("account_manager")
def today_page():
    db, day = get_session(), business_today()
    run = today.latest_run(db)
    moves = today.run_moves(db, current_user.id, run.id) if run else []
    snapshot, figures = snapshots.figures(db, snapshots.scope_for(current_user))
    return render_template(
        "workspace/today.html",
        today=day,
        due=visits.due_follow_ups(db, current_user, day, limit=today.BLOCK_LIMIT),
        renewals=today.renewals_due(db, current_user.id, day),
        renewal_days=today.RENEWAL_DAYS,
        unused=today.unused_benefits(db, current_user.id, day),
        run=run,
        became=[m for m in moves if m.new_tier in WATCHED_MOVES],
        cases=today.open_cases(db, current_user.id),
        snapshot=snapshot,
        breaches=warnings.visible_breaches(figures, current_user.role),
        indicators=warnings.BY_CODE,
    )
