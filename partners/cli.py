"""partners: `crm partners create` and `crm coupons issue`.

Each exits 0 on success and non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from crm import audit
from crm.clock import business_today
from crm.db import get_db
from crm.models import Customer
from partners import services
from partners.models import CATEGORIES

DEFAULT_VALIDITY_DAYS = 90


@click.group("partners", help="Partner merchants.")
def partners_group():
    pass


@partners_group.command("create")
@click.argument("name")
@click.option("--category", default="dining", show_default=True, type=click.Choice(CATEGORIES))
@with_appcontext
def partners_create(name, category):
    """Create a partner merchant; prints its id and its API key (shown once, stored hashed)."""
    try:
        with get_db().transaction() as session:
            partner, key = services.create_partner(session, audit.Actor.cli("partners"), name, category)
    except services.PartnerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"partner_id: {partner.id}")
    click.echo(f"api_key: {key}")


@click.group("coupons", help="Partner coupons.")
def coupons_group():
    pass


@coupons_group.command("issue")
@click.option("--customer", "customer_ref", required=True, help="the customer_ref")
@click.option("--partner", "partner_id", required=True, type=int)
@click.option("--value", required=True, help="face value in CNY, e.g. 100.00")
@click.option("--expires", help=f"last valid day, YYYY-MM-DD (default: in {DEFAULT_VALIDITY_DAYS} days)")
@with_appcontext
def coupons_issue(customer_ref, partner_id, value, expires):
    """Issue a coupon; prints its code alone on one line."""
    today = business_today()
    try:
        expires_on = dt.date.fromisoformat(expires) if expires else today + dt.timedelta(days=DEFAULT_VALIDITY_DAYS)
    except ValueError:
        raise click.ClickException(f"--expires {expires!r} is not a date (YYYY-MM-DD)") from None
    if expires_on < today:
        raise click.ClickException(f"--expires {expires_on} is in the past")
    try:
        with get_db().transaction() as session:
            customer_id = session.scalar(select(Customer.id).where(Customer.customer_ref == customer_ref.strip()))
            if customer_id is None:
                raise services.PartnerError(f"there is no customer {customer_ref}")
            coupon = services.issue_coupon(
                session, audit.Actor.cli("coupons"), customer_id, partner_id, services.parse_value(value), expires_on
            )
            code = coupon.code
    except services.PartnerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(code)


COMMANDS = [partners_group, coupons_group]
