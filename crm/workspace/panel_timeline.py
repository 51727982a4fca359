"""The customer page's "what next" card and timeline (templates/workspace/_timeline.html, which
the customer page includes below its records). The page has already checked that the user may
see the customer; the filter and page of the timeline come from the page's query string."""

from __future__ import annotations

from flask import request

from crm.auth.login import STAFF
from crm.clock import business_today
from crm.request_args import int_arg
from crm.workspace import timeline


def customer_panel(session, user, customer) -> dict | None:
    if user.role not in STAFF:
        return None
    return {
        "template": "workspace/_what_next.html",
        "what_next": timeline.what_next(session, customer, business_today()),
        "timeline": timeline.customer_timeline(
            session, customer, request.args.get("timeline") or None, int_arg("timeline_page", 0)
        ),
        "timeline_kinds": timeline.KINDS,
    }
