"""`crm review …`: round-robin assignment and the review settings in force."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from crm import audit
from crm.db import get_db


@click.group("review", help="Review queues (enhanced underwriting, claims review).")
def review_group():
    pass


@review_group.command("assign")
@click.argument("queue", type=click.Choice(["underwriting", "claims"]))
@click.option("--limit", default=500, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def review_assign(queue, limit):
    """Assign the most urgent open cases round-robin among active reviewers."""
    from crm.review.assign import assign_open_cases

    with get_db().transaction() as session:
        n = assign_open_cases(session, queue, audit.Actor.cli("review"), limit)
    click.echo(f"assigned {n} {queue} cases")


@review_group.command("settings")
@with_appcontext
def review_settings():
    """Print the review settings in force (JSON)."""
    from crm.review.sla import current_settings

    with get_db().session() as session:
        click.echo(json.dumps(current_settings(session).to_dict(), indent=2, sort_keys=True))


COMMANDS: list = [review_group]
