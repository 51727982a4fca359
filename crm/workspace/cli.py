"""`crm export data DIR` and `crm workspace snapshot`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask.cli import with_appcontext

from crm import audit, csvout
from crm.clock import business_today
from crm.db import get_db, utcnow


@click.group("export", help="Data exports.")
def export_group():
    pass


@export_group.command("data")
@click.argument("directory", type=click.Path(file_okay=False, writable=True))
@with_appcontext
def export_data(directory):
    """Write the versioned data export (CSV, JSON Schemas, manifest) into DIRECTORY."""
    from crm.workspace.export import export_data as write

    database = get_db()
    with database.session() as session:
        manifest = write(session.connection(), Path(directory))
    with database.transaction() as session:
        audit.record(
            session,
            audit.Actor.cli("export"),
            audit.Change(
                "data.export",
                "data_export",
                manifest["version"],
                None,
                {"generated_at": manifest["generated_at"], "directory": str(directory)},
            ),
        )
    for f in manifest["files"]:
        click.echo(f"{f['name']:<24} {f['rows']:>10} rows  {f['sha256']}")
    click.echo(f"export version {manifest['version']} written to {directory}")


@click.group("workspace", help="The account managers' workspace.")
def workspace_group():
    pass


@workspace_group.command("snapshot")
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default: today)")
@with_appcontext
def snapshot(as_of):
    """Compute the report figures the dashboard and the reports show."""
    from crm.workspace.snapshots import SnapshotExists, take_snapshot

    try:
        day = dt.date.fromisoformat(as_of) if as_of else business_today()
    except ValueError:
        raise click.ClickException(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    try:
        snapshot_id = take_snapshot(get_db(), day, f"manual:{utcnow().isoformat()}", audit.Actor.cli("workspace"))
    except SnapshotExists as exc:
        raise click.ClickException(f"a snapshot {exc} exists already") from None
    click.echo(f"report snapshot {snapshot_id} as of {day}")


@click.group("reports", help="Reports from the raw data.")
def reports_group():
    pass


@reports_group.command("export")
@click.argument("name", type=click.Choice(["pending_claims", "premium"]))
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default: today in the business time zone)")
@with_appcontext
def reports_export(name, file, as_of):
    """Write one report (columns and definitions in shared/CONTRACT.md) as CSV."""
    from crm.workspace.statutory import COLUMNS, REPORTS

    try:
        day = dt.date.fromisoformat(as_of) if as_of else business_today()
    except ValueError:
        raise click.ClickException(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    with get_db().session() as session:
        rows = REPORTS[name](session.connection(), day)
    with open(file, "w", newline="", encoding="utf-8") as out:
        writer = csvout.writer(out)
        writer.writerow(COLUMNS[name])
        writer.writerows([row[column] for column in COLUMNS[name]] for row in rows)
    click.echo(f"{name} as of {day}: {len(rows)} rows written to {file}")


COMMANDS = [export_group, workspace_group, reports_group]
