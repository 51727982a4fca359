"""The workspace panel of the customer page: visits and follow-ups; reassignment for admins."""

from __future__ import annotations

import dataclasses

from crm.clock import business_today
from crm.customers.services import visible_customers
from crm.models import Customer
from crm.workspace import portfolio, referrals, visits
from crm.workspace.forms import ReassignForm


def customer_panel(session, user, customer) -> dict | None:
    if user.role == "partner_cashier":
        return None
    form = None
    if user.role == "admin":
        form = ReassignForm(formdata=None)
        form.manager.choices = [(m.id, m.full_name or m.email) for m in portfolio.active_managers(session)]
        form.manager.data = customer.account_manager_id
    day = business_today()
    tree = referrals.referral_tree(session, customer.id, day)
    visible = set(
        session.scalars(
            visible_customers(user).with_only_columns(Customer.id).where(Customer.id.in_([r.customer_id for r in tree]))
        )
    )
    tree = [r if r.customer_id in visible else _hidden(r) for r in tree]
    return {
        "template": "workspace/_customer_panel.html",
        "visits": visits.customer_visits(session, customer.id),
        "today": day,
        "referrals": tree,
        "brought_in": referrals.brought_in(tree),
        "can_log": user.role == "account_manager",
        "reassign_form": form,
    }


def _hidden(node: referrals.Referral) -> referrals.Referral:
    """Another portfolio's customer: the reference and premium only."""
    return dataclasses.replace(node, name="", visible=False)
