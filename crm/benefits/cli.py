"""benefits: commands added to `crm`."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from crm import audit
from crm.clock import business_today
from crm.db import get_db


@click.group("benefits", help="VIP benefits: entitlements and their renewal.")
def benefits_group():
    pass


@benefits_group.command("renew")
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default: today in the insurer's zone)")
@with_appcontext
def renew(as_of):
    """Grant the current period's entitlements to everyone who has none yet (as the daily job does)."""
    from crm.benefits.jobs import renew_entitlements

    if as_of is None:
        day = business_today()
    else:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise click.ClickException(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    n = renew_entitlements(get_db(), day, audit.Actor.cli("benefits"))
    click.echo(f"renewed as of {day.isoformat()}: {n} new entitlement entries")


COMMANDS: list = [benefits_group]
