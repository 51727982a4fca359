"""The workspace panel of the customer page: visits and follow-ups; reassignment for admins."""
from __future__ import annotations

from crm.clock import business_today
from crm.workspace import portfolio, visits
from crm.workspace.forms import ReassignForm


def customer_panel(session, user, customer) -> dict | None:
    if user.role == "partner_cashier":
        return None
    form = None
    if user.role == "admin":
        form = ReassignForm(formdata=None)
        form.manager.choices = [(m.id, m.full_name or m.email) for m in portfolio.active_managers(session)]
        form.manager.data = customer.account_manager_id
    return {"template": "workspace/_customer_panel.html", "visits": visits.customer_visits(session, customer.id),
            "today": business_today(),
            "can_log": user.role == "account_manager", "reassign_form": form}
