"""Request bodies are bounded per route (issue 19, item 6), through a real HTTP client against
a served app: the partner API 64 KiB (413 in its JSON error shape), forms 1 MiB, the upload
page its configured size. Werkzeug refuses a declared length over the limit before reading a
byte, and cuts a chunked body (no Content-Length) off as it passes the limit."""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select as sql_select

from partners.models import Redemption
from tests.conftest import PASSWORD
from tests.partners_helpers import live_url, world  # noqa: F401

API = "/api/partners/v1"
KIB, MIB = 1024, 1024 * 1024


def _redemptions(database) -> int:
    with database.session() as s:
        return s.scalar(sql_select(func.count()).select_from(Redemption))


def test_a_partner_api_body_over_64_kib_answers_413_in_json(live_url, world, database):
    headers = {
        "Authorization": f"Bearer {world['key']}",
        "Idempotency-Key": uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    big = json.dumps({"code": world["code"], "note": "x" * (65 * KIB)}).encode()
    r = requests.post(f"{live_url}{API}/redemptions", data=big, headers=headers, timeout=10)
    assert r.status_code == 413
    assert r.json() == {"error": "payload_too_large", "message": "The request body is larger than 64 KiB."}
    r = requests.post(f"{live_url}{API}/redemptions/1/void", data=big, headers=headers, timeout=10)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    # Just under the limit the body is read and judged as usual (an unknown field: 422).
    under = json.dumps({"code": world["code"], "note": "x" * (60 * KIB)}).encode()
    r = requests.post(f"{live_url}{API}/redemptions", data=under, headers=headers, timeout=10)
    assert r.status_code == 422 and r.json()["fields"] == {"note": "unknown field"}
    assert _redemptions(database) == 0


def _chunked_post(base: str, path: str, headers: dict, chunk: bytes, most: int) -> tuple[int, bytes]:
    """POST a chunked body (no Content-Length) of up to ``most`` chunks, stopping as soon as the
    server answers; returns (bytes sent, the answer)."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.netloc}",
        "Transfer-Encoding: chunked",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    sock.sendall("\r\n".join(head).encode())
    sent = 0
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        for _ in range(most):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer has come: the server stopped reading
            sock.sendall(frame)
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
            head, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break  # the whole answer: the server may keep the socket open after it
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return sent, answer


def test_a_chunked_partner_api_body_is_cut_off_at_the_limit_not_read_to_its_end(live_url, world, database):
    headers = {
        "Authorization": f"Bearer {world['key']}",
        "Idempotency-Key": uuid.uuid4().hex,
        "Content-Type": "application/json",
        "Connection": "close",
    }
    # 1 GiB offered in 64 KiB chunks: the server answers after the first few.
    sent, answer = _chunked_post(live_url, f"{API}/redemptions", headers, b" " * (64 * KIB), 16 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error":"payload_too_large"' in answer.replace(b" ", b"")
    assert sent < 64 * MIB  # what the socket buffers took before the answer; nowhere near 1 GiB
    assert _redemptions(database) == 0


def test_a_form_over_1_mib_answers_413_before_anything_reads_it(live_url):
    page = requests.Session()
    token = re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.get(f"{live_url}/login", timeout=10).text
    ).group(1)
    r = page.post(
        f"{live_url}/login", data={"csrf_token": token, "email": "x@test.crm", "password": "p" * (MIB + 10)}, timeout=10
    )
    assert r.status_code == 413
    r = page.post(
        f"{live_url}/login",
        data={"csrf_token": token, "email": "x@test.crm", "password": "p" * (MIB - 10 * KIB)},
        timeout=10,
    )
    assert r.status_code == 401  # read and judged as usual: a failed log-in
    # A chunked form is cut off at the same limit.
    _, answer = _chunked_post(
        live_url,
        "/login",
        {"Content-Type": "application/x-www-form-urlencoded", "Connection": "close"},
        b"a" * (64 * KIB),
        16 * 1024,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


@pytest.fixture
def upload_site(sqlite_url):
    """The app with a 2 MiB upload limit on a real port, and an admin logged in (a requests
    Session); yields (base URL, session, database)."""
    from werkzeug.serving import make_server

    from crm.app import create_app
    from crm.audit import Actor
    from crm.auth.services import create_user

    app = create_app({"env": "test", "database_url": sqlite_url, "max_upload_mb": 2})
    database = app.extensions["crm_db"]
    with database.transaction() as session:
        create_user(session, Actor("system", "tests"), "uploader@test.crm", "admin", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    browser = requests.Session()
    token = _token(browser.get(f"{base}/login", timeout=10).text)
    assert (
        browser.post(
            f"{base}/login",
            data={"csrf_token": token, "email": "uploader@test.crm", "password": PASSWORD},
            allow_redirects=False,
            timeout=10,
        ).status_code
        == 302
    )
    yield base, browser, database
    server.shutdown()
    database.dispose()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_the_upload_page_takes_its_configured_size_not_the_forms_1_mib(upload_site):
    from crm.config import UPLOAD_DIR
    from crm.imports.models import ImportJob

    base, browser, database = upload_site
    stored_before = set(UPLOAD_DIR.glob("*"))

    def upload(size: int):
        token = _token(browser.get(f"{base}/admin/import", timeout=10).text)
        body = b"customer_ref,name\n" + b"x" * (size - 18)
        return browser.post(
            f"{base}/admin/import",
            data={"csrf_token": token, "kind": "customers"},
            files={"file": ("big.csv", body, "text/csv")},
            allow_redirects=False,
            timeout=30,
        )

    ok = upload(int(1.5 * MIB))  # more than any other form may send
    assert ok.status_code == 302 and "/admin/imports/" in ok.headers["Location"]
    over = upload(int(2.5 * MIB))  # past the upload limit, within the page's body limit: not stored
    assert over.status_code == 413 and "larger than 2 MiB" in over.text
    far_over = upload(5 * MIB)  # past the body limit: refused before it is read
    assert far_over.status_code == 413
    with database.session() as s:
        jobs = list(s.scalars(sql_select(ImportJob)))
    assert [j.size_bytes for j in jobs] == [int(1.5 * MIB)]
    assert set(UPLOAD_DIR.glob("*")) - stored_before == {UPLOAD_DIR / jobs[0].stored_name}
