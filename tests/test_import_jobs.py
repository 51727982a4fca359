"""Uploads become import jobs run by the scheduler process (issue 19, item 7), on both
databases: upload → queued → the scheduler's job runs it → its page shows the outcome; a bad
file lists every problem in row order and imports nothing; two workers racing for one job run
it once; a job whose process died is recorded as it ended. And a partner API request waits a
few seconds at most for a lock a long import holds, then answers 503 with Retry-After."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import threading
import time
import uuid

import requests
from sqlalchemy import create_engine, func, select, text, update

from crm.audit import Actor
from crm.config import UPLOAD_DIR
from crm.imports import services as imports
from crm.imports.models import ImportJob
from crm.jobs import scheduler
from crm.models import AuditEvent, Customer, ImportBatch
from partners.models import Redemption
from tests.conftest import csrf_token
from tests.factories import customer_row, write_csv
from tests.partners_helpers import live_url, world  # noqa: F401

ACTOR = Actor("user", "admin@test.crm", "1", "admin")


def _count(database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _upload(client, tmp_path, rows, name="customers.csv", **fields):
    data = write_csv(tmp_path / name, rows).read_bytes()
    return client.post(
        "/admin/import",
        data={
            "csrf_token": csrf_token(client, "/admin/import"),
            "kind": "customers",
            "file": (io.BytesIO(data), name),
            **fields,
        },
        content_type="multipart/form-data",
    )


def _actions(database) -> list[str]:
    with database.session() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_an_upload_is_queued_and_the_scheduler_imports_it_and_its_page_shows_the_outcome(
    app, client, login_as, database, tmp_path
):
    login_as("admin")
    response = _upload(client, tmp_path, [customer_row(), customer_row(), customer_row()])
    assert response.status_code == 302
    page = response.headers["Location"]
    job_id = int(page.rsplit("/", 1)[1])
    # Queued, not imported by the web request; the file waits in the upload directory.
    assert _count(database, Customer) == 0
    with database.session() as s:
        job = s.get(ImportJob, job_id)
        assert job.state == "queued" and job.filename == "customers.csv"
    assert (UPLOAD_DIR / job.stored_name).exists()
    html = client.get(page).get_data(as_text=True)
    assert 'id="import-progress"' in html and "Queued" in html
    assert client.get(f"{page}.json").get_json() == {"id": job_id, "state": "queued", "phase": "", "progress": 0}

    scheduler.queued_imports(database, app.config["CRM_SETTINGS"])  # the scheduler's job, as it runs it

    assert _count(database, Customer) == 3
    html = client.get(page).get_data(as_text=True)
    assert 'id="import-result"' in html and "Imported 3 rows: 3 new, 0 updated." in html
    status = client.get(f"{page}.json").get_json()
    assert status["state"] == "completed" and status["progress"] == 100
    assert not (UPLOAD_DIR / job.stored_name).exists()  # deleted once the job ended
    actions = _actions(database)
    assert actions.index("import.queued") < actions.index("import.completed") < actions.index("import.job_completed")
    assert f'href="/admin/imports/{job_id}"' in client.get("/admin/import").get_data(as_text=True)
    scheduler.queued_imports(database, app.config["CRM_SETTINGS"])  # nothing more to do
    assert _count(database, ImportBatch) == 1


def test_a_bad_file_lists_every_problem_in_row_order_and_imports_nothing(app, client, login_as, database, tmp_path):
    login_as("admin")
    rows = [
        customer_row(referred_by="C999999"),
        customer_row(phone="1"),
        customer_row(),
        customer_row(account_manager="nobody@test.crm"),
    ]
    page = _upload(client, tmp_path, rows).headers["Location"]
    scheduler.queued_imports(database, app.config["CRM_SETTINGS"])
    response = client.get(page)
    html = response.get_data(as_text=True)
    assert 'id="import-problems"' in html and "Nothing was imported." in html
    shown = _problems(html)
    rows_named = [int(line.split(",")[0].removeprefix("row ")) for line in shown]
    # The importer finds the references after reading every row: still listed by row.
    assert rows_named == [2, 3, 5], shown
    assert "row 3, column phone:" in shown[1]
    assert _count(database, Customer) == 0 and _count(database, ImportBatch) == 0
    with database.session() as s:
        job = s.scalar(select(ImportJob))
        assert job.state == "failed" and len(json.loads(job.problems)) == 3
    assert not (UPLOAD_DIR / job.stored_name).exists()
    assert "import.job_failed" in _actions(database)


def _problems(html: str) -> list[str]:
    """The problems listed on an import job's page, in the order shown."""
    listed = html.split('id="import-problems"', 1)[1].split("</ul>", 1)[0]
    return [item.split("</li>", 1)[0] for item in listed.split("<li>")[1:]]


def _queued_job(database, tmp_path, rows) -> int:
    data = write_csv(tmp_path / f"{uuid.uuid4().hex}.csv", rows).read_bytes()
    upload = imports.store_upload(io.BytesIO(data), UPLOAD_DIR, 10 << 20)
    with database.transaction() as s:
        return imports.queue_import(s, ACTOR, "customers", "c.csv", upload).id


def test_two_workers_racing_for_one_job_run_it_once(database, tmp_path):
    job_id = _queued_job(database, tmp_path, [customer_row() for _ in range(50)])
    start = threading.Barrier(2)
    results, errors = [], []

    def worker() -> None:
        try:
            start.wait()
            results.append(imports.run_next(database, UPLOAD_DIR))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ran = [job for job in results if job is not None]
    assert len(ran) == 1 and ran[0].id == job_id and ran[0].state == "completed" and ran[0].created == 50
    assert _count(database, Customer) == 50 and _count(database, ImportBatch) == 1
    assert _count(database, AuditEvent, AuditEvent.action == "import.job_completed") == 1

    # The claim itself: of eight claimants of one queued job, exactly one gets it.
    other = _queued_job(database, tmp_path, [customer_row()])
    start8, claims = threading.Barrier(8), []

    def claimant() -> None:
        start8.wait()
        claims.append(imports.claim(database, other))

    threads = [threading.Thread(target=claimant) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == [False] * 7 + [True]


def test_a_job_whose_process_died_is_recorded_as_it_ended(database, tmp_path):
    dead = _queued_job(database, tmp_path, [customer_row()])
    assert imports.claim(database, dead)  # … and its process is killed before it imports
    committed = _queued_job(database, tmp_path, [customer_row(), customer_row()])
    assert imports.claim(database, committed)
    with database.session() as s:
        stored = s.get(ImportJob, committed).stored_name
    from crm.importer import import_csv

    import_csv(database, "customers", UPLOAD_DIR / stored, ACTOR)  # … killed after its import committed
    waiting = _queued_job(database, tmp_path, [customer_row()])
    assert imports.run_next(database, UPLOAD_DIR).id == waiting  # fresh heartbeats: both still "running"
    with database.session() as s:
        assert {j.id: j.state for j in s.scalars(select(ImportJob))}[dead] == "running"
    with database.transaction() as s:
        s.execute(
            update(ImportJob)
            .where(ImportJob.id.in_([dead, committed]))
            .values(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        )
    assert sorted(imports.free_stale_jobs(database, UPLOAD_DIR)) == [dead, committed]
    with database.session() as s:
        jobs = {j.id: j for j in s.scalars(select(ImportJob))}
    assert jobs[dead].state == "failed" and jobs[dead].error == "interrupted"
    assert jobs[committed].state == "completed" and jobs[committed].created == 2
    assert not list(UPLOAD_DIR.glob(jobs[dead].stored_name))
    assert _count(database, Customer) == 3


def test_the_api_waits_a_few_seconds_for_a_held_write_lock_then_answers_503_with_retry_after(
    live_url, world, database, db_url
):
    """As while another writer holds what the redemption must write: on SQLite another
    connection holds the write lock; on PostgreSQL a transaction holds the coupons table
    (the audit trail no longer serialises writers: events are sealed afterwards)."""
    if db_url.startswith("sqlite"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        engine = create_engine(db_url)
        holder = engine.connect()
        holder.begin()
        holder.execute(text("LOCK TABLE coupons IN EXCLUSIVE MODE"))
    try:
        started = time.monotonic()
        r = requests.post(
            f"{live_url}/api/partners/v1/redemptions",
            json={"code": world["code"]},
            headers={"Authorization": f"Bearer {world['key']}", "Idempotency-Key": "k-1"},
            timeout=30,
        )
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
        if not db_url.startswith("sqlite"):
            engine.dispose()
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable" and set(r.json()) == {"error", "message"}
    assert int(r.headers["Retry-After"]) >= 1
    assert 2.5 <= waited < 8, waited  # the configured 3 s, not SQLite's 30
    assert _count(database, Redemption) == 0
    r = requests.post(
        f"{live_url}/api/partners/v1/redemptions",
        json={"code": world["code"]},
        headers={"Authorization": f"Bearer {world['key']}", "Idempotency-Key": "k-1"},
        timeout=30,
    )
    assert r.status_code == 201  # the lock released, the same request goes through
