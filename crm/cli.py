"""The `crm` command line (the same commands as `flask --app crm …`).

Each command exits 0 on success and non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from crm import audit
from crm.db import get_db


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _progress_bar(desc: str, unit: str = "B"):
    """A terminal progress bar (over bytes by default); silent when stderr is not a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, disable=None, leave=False)
    state = {"phase": None}

    def update(done: int, total: int, phase: str) -> None:
        if state["phase"] != phase:
            state["phase"] = phase
            bar.reset(total=total)
            bar.set_description(f"{desc}: {phase}")
        bar.n = done
        bar.refresh() if done >= total else bar.update(0)

    return bar, update


@click.group("db", help="Database schema.")
def db_group():
    pass


@db_group.command("upgrade")
@with_appcontext
def db_upgrade():
    """Migrate the configured database to the newest schema."""
    from crm.migrate import upgrade

    upgrade(get_db().url)
    click.echo("database is at the newest schema")


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def db_backup(file):
    """Write a consistent backup of the configured database to FILE (online)."""
    from crm.backup import BackupError, backup

    try:
        backup(get_db().url, file)
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"backed up to {file}")


@db_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask: the database's content is replaced")
@with_appcontext
def db_restore(file, yes):
    """Replace the configured database's content with FILE, then verify the audit chain."""
    from crm.backup import BackupError, restore

    if not yes:
        click.confirm("This replaces every record in the database. Go on?", abort=True)
    database = get_db()
    database.dispose()  # no pooled connection may keep the old content open
    try:
        restore(database.url, file)
    except BackupError as exc:
        _fail(str(exc))
    audit.seal_pending(database)  # what the backup held unsealed, as the scheduler would
    with database.session() as session:
        result = audit.verify(session)
    if not result.ok:
        _fail(f"restored, but the audit trail does not verify: {result.problem}")
    click.echo(f"restored from {file}; audit trail intact ({result.checked} events)")


@click.group("users", help="Staff and partner log-ins.")
def users_group():
    pass


@users_group.command("create")
@click.argument("email")
@click.option("--role", required=True)
@click.option("--name", "full_name", default="")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@with_appcontext
def users_create(email, role, full_name, password_stdin):
    """Create a user; without --password-stdin a strong password is generated and printed once."""
    import secrets

    from crm.auth.services import UserError, create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        with get_db().transaction() as session:
            user = create_user(session, audit.Actor.cli(), email, role, password, full_name)
    except UserError as exc:
        _fail(str(exc))
    click.echo(f"created {user.email} ({user.role})")
    if not password_stdin:
        click.echo(f"password: {password}")


def _admin(email: str):
    """The active admin account with this e-mail (the person a command acts for), or fail."""
    from sqlalchemy import select

    from crm.models import User

    with get_db().session() as session:  # e-mails are stored in lower case (crm.auth.services)
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        _fail(f"--user {email}: no active user account with this e-mail")
    if user.role != "admin":
        _fail(f"--user {email}: imports are an admin's act, and this account is a {user.role}")
    return user


@click.command("import")
@click.argument("kind", type=click.Choice(["customers", "policies", "claims", "close-initial-load"]))
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="validate only")
@click.option(
    "--initial-load",
    is_flag=True,
    help="this file migrates historical data (exempt from late-entry rules; audited as such); "
    "accepted while the initial load is open, later only for a file a second admin approved",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "gb18030"]),
    default="utf-8",
    show_default=True,
    help="the file's text encoding: gb18030 also reads GBK, what Excel saves as CSV on a Chinese Windows",
)
@click.option(
    "--user",
    "user_email",
    metavar="EMAIL",
    help="the admin (a user account's e-mail) this import is made by, audited as that person; "
    "needed to ask for a second admin's approval of an --initial-load file once the initial load is closed",
)
@with_appcontext
def import_command(kind, file, dry_run, initial_load, encoding, user_email):
    """Import a CSV file: all or nothing. `crm import close-initial-load` ends the initial load."""
    from crm import initial_load as initial
    from crm.importer import ImportFailed, import_csv

    actor, user_id = audit.Actor.cli("import"), None
    if user_email:
        admin = _admin(user_email)
        actor, user_id = audit.Actor.for_user(admin), admin.id
    if kind == "close-initial-load":
        with get_db().transaction() as session:
            closed = initial.close(session, actor)
        click.echo("the initial load is closed" if closed else "the initial load was closed already")
        return
    if file is None:
        _fail("import needs a FILE (crm import KIND FILE.csv)")

    bar, update = _progress_bar(kind)
    try:
        summary = import_csv(
            get_db(),
            kind,
            file,
            actor,
            dry_run=dry_run,
            initial_load=initial_load,
            user_id=user_id,
            progress=update,
            encoding=encoding,
        )
    except ImportFailed as exc:
        bar.close()
        click.echo(str(exc), err=True)
        _fail(f"{file}: {len(exc.problems) + exc.more} problems; nothing was imported")
    bar.close()
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {summary.rows} {kind} rows: {summary.created} new, {summary.updated} updated"
        + ("" if dry_run else f", {summary.unchanged} unchanged")
    )
    if not dry_run:
        click.echo(summary.changes())


@click.group("audit", help="The tamper-evident audit trail.")
def audit_group():
    pass


@audit_group.command("seal")
@with_appcontext
def audit_seal():
    """Chain the events written since the last seal (the scheduler does it every second)."""
    click.echo(f"sealed {audit.seal_pending(get_db())} events")


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False),
    help="a file written by `crm audit anchor`: also catches a truncated tail",
)
@with_appcontext
def audit_verify(anchor_file):
    """Seal what is waiting, then exit 0 when the trail is intact and every audited record
    (customers, policies, claims, coupons, redemptions, entitlement entries, tiers) still holds
    the state its last audited change left; else exit 1 naming the first bad event (or the
    events the sealer left for more than a minute), and each record changed outside the
    application as `TABLE KEY: field, field` (or `deleted`, `inserted`)."""
    from crm import record_digests

    anchor = json.loads(open(anchor_file).read()) if anchor_file else None
    audit.seal_pending(get_db())
    with get_db().session() as session:
        found = record_digests.verify(session, progress=_rows_bar("records"))
    with get_db().session() as session:
        result = audit.verify(session, anchor)
    for finding in found:
        click.echo(str(finding))
    if not result.ok:
        _fail(
            f"audit trail broken: {result.problem}"
            + (f"; {len(found)} records changed outside the application" if found else "")
        )
    if found:
        _fail(
            f"{len(found)} records changed outside the application (the trail is intact: "
            f"{result.checked} events); a database from before record digests needs `crm audit baseline` once"
        )
    click.echo(
        f"audit trail intact: {result.checked} events, newest {result.last_seq} {result.last_hash}; every audited record as its last audited change left it"
    )


@audit_group.command("baseline")
@click.option(
    "--all", "every", is_flag=True, help="every record, not only those without a digest (after SECRET_KEY changed)"
)
@with_appcontext
def audit_baseline(every):
    """Record the digest of each audited record that has none (audited): once, on a database
    from before record digests, after `crm audit verify` found the trail intact."""
    from crm import record_digests

    with get_db().transaction() as session:
        counts = record_digests.baseline(session, every=every)
        audit.record(
            session,
            audit.Actor.cli("audit"),
            audit.Change("audit.baseline", "record_digests", None, None, {"records": counts, "all": every}),
        )
    click.echo(", ".join(f"{table}: {n}" for table, n in counts.items()))


def _rows_bar(desc: str):
    """A progress callback (done, total, phase) on a terminal bar over rows."""
    return _progress_bar(desc, unit=" rows")[1]


@audit_group.command("anchor")
@with_appcontext
def audit_anchor():
    """Print the newest event's number and hash (keep it somewhere the database is not)."""
    audit.seal_pending(get_db())
    with get_db().session() as session:
        result = audit.verify(session)
    if not result.ok:
        _fail(f"audit trail broken: {result.problem}")
    click.echo(json.dumps({"seq": result.last_seq, "hash": result.last_hash}))


@click.group("demo", help="Demo data.")
def demo_group():
    pass


@demo_group.command("seed")
@click.option("--customers", "n_customers", default=2000, show_default=True, type=click.IntRange(1, 5_000_000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="do nothing when customers exist already")
@with_appcontext
def demo_seed(n_customers, seed, if_empty):
    """A realistic synthetic portfolio, deterministic for a seed; prints the demo log-ins."""
    from crm.demo import DemoAlreadySeeded, seed_demo

    try:
        logins = seed_demo(get_db(), n_customers, seed, if_empty=if_empty, progress=_progress_bar)
    except DemoAlreadySeeded as exc:
        click.echo(str(exc))
        return
    click.echo(logins)


@click.group("tiers", help="Tier recalculation and export.")
def tiers_group():
    pass


def _as_of(value: str | None):
    import datetime as dt

    if value is None:
        from crm.clock import business_today

        return business_today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of {value!r} is not a date (YYYY-MM-DD)")


def _run_bar():
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="tiers", file=sys.stderr, disable=None, leave=False)

    def update(percent: int, phase: str) -> None:
        bar.set_description(f"tiers: {phase}")
        bar.n = percent
        bar.refresh()

    return bar, update


@tiers_group.command("recalc")
@click.option("--as-of", "as_of", help="YYYY-MM-DD (default: today)")
@click.option("--dry-run", is_flag=True, help="compute and show the moves, change nothing")
@with_appcontext
def tiers_recalc(as_of, dry_run):
    """Recalculate every customer's tier; prints counts per tier and the moves."""
    from crm.jobs import recalc

    settings = current_app.config["CRM_SETTINGS"]
    bar, update = _run_bar()
    req = recalc.RunRequest(
        as_of=_as_of(as_of),
        actor=audit.Actor.cli("tiers"),
        trigger="cli",
        mode="preview" if dry_run else "publish",
        policy_file=settings.tier_policy_file,
        workers=settings.recalc_workers,
        progress=update,
    )
    try:
        summary = recalc.recalculate(get_db(), req)
    except recalc.AlreadyRunning as exc:
        bar.close()
        _fail(f"already running: {exc}")
    except recalc.LostSlot as exc:
        bar.close()
        _fail(str(exc))
    bar.close()
    click.echo(
        f"run {summary.run_id} ({'preview, nothing changed' if dry_run else 'published'}): "
        f"{summary.customers} customers in {summary.seconds:.1f}s ({summary.workers} process"
        f"{'es' if summary.workers > 1 else ''}), {summary.changed} changed; "
        f"policy {summary.policy_version}, model {summary.model_version}"
    )
    for tier in ("vip", "standard", "watchlist"):
        click.echo(f"  {tier:<10} {summary.counts.get(tier, 0)}")
    for move, n in summary.moves.items():
        click.echo(f"  {move:<22} {n}")
    delivery = summary.delivery
    if delivery is not None and delivery.batches:
        click.echo(f"moves delivered to the subscribers (benefits): {delivery.moves} in {delivery.batches} batches")
    if delivery is not None and delivery.error:
        _fail(
            f"the tiers are published, but delivering their moves to the subscribers failed ({delivery.error}); "
            "`crm scheduler run` tries again"
        )


@tiers_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--as-of", "as_of", help="compute the tiers as of this date instead of exporting the stored ones")
@with_appcontext
def tiers_export(file, as_of):
    """Write customer_ref,tier,value_score,risk_score,reasons."""
    from crm.tiers.export import export_computed, export_stored

    with open(file, "w", newline="", encoding="utf-8") as out:
        if as_of is None:
            n = export_stored(get_db(), out)
        else:
            n = export_computed(get_db(), out, _as_of(as_of), current_app.config["CRM_SETTINGS"].tier_policy_file)
    click.echo(f"exported {n} customers to {file}")


@click.group("scheduler", help="The scheduler process.")
def scheduler_group():
    pass


@scheduler_group.command("run")
@with_appcontext
def scheduler_run():
    """Run periodic jobs (tier recalculation on its cron, queued runs) until stopped."""
    from crm.jobs import scheduler

    settings = current_app.config["CRM_SETTINGS"]
    scheduler.configure_logging(settings.timezone)
    click.echo(f"scheduler: tier recalculation on '{settings.recalc_cron}' ({settings.timezone})")
    scheduler.run(get_db(), settings)


def register(app) -> None:
    from crm import features

    for command in (db_group, users_group, import_command, audit_group, demo_group, tiers_group, scheduler_group):
        app.cli.add_command(command)
    for module in features.modules(features.CLI):
        for command in module.COMMANDS:
            app.cli.add_command(command)
