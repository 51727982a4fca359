"""The personal-data scan itself: it finds what it must (so that a clean run means something)."""

from __future__ import annotations

import datetime as dt

from crm.validators import make_id_number, mask_id_number, mask_phone
from tests.pii_scan import find_personal_data


def test_the_scan_finds_full_numbers_and_ignores_masked_ones():
    ident = make_id_number("310115", dt.date(1985, 3, 2), 7, "F")
    text = f"<td>{ident}</td><td>13912345678</td><td>{mask_id_number(ident)}</td><td>{mask_phone('13912345678')}</td>"
    assert find_personal_data(text) == [ident, "13912345678"]
    assert find_personal_data("P0000013912345678 amount 13912345678.00") == []
    assert find_personal_data("110105198001010000 is not a valid ID") == []


def test_every_page_of_the_suite_is_scanned(client):
    from tests.pii_scan import RECORDER

    before = RECORDER.responses
    client.get("/login")
    assert RECORDER.responses == before + 1


def test_a_leak_fails_the_run_under_xdist_too(tmp_path):
    """Each xdist worker scans its own tests; the controller must gather every worker's
    findings and fail the run (a worker's own exit status does not reach it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, pytest_sessionfinish, pytest_testnodedown  # noqa: F401\n"
    )
    (tmp_path / "test_leak.py").write_text(
        "import logging\n\n"
        "def test_leaks():\n    logging.getLogger('crm.x').warning('calling 13912345678 back')\n\n"
        "def test_clean():\n    logging.getLogger('crm.x').warning('nothing to see')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root), "CRM_ENV": "test"}
    env.pop("CRM_REQUIRE_POSTGRES", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "2 passed" in result.stdout, result.stdout + result.stderr
    assert "PERSONAL DATA SCAN: 1 unmasked values" in result.stdout, result.stdout
    assert result.returncode == 1
