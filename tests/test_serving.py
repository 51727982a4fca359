"""The app served as production serves it: gunicorn, started in the project's root, with the
settings of gunicorn.conf.py (README.md, Running in production)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is installed with the server extra")
def test_a_gunicorn_worker_builds_the_app_readies_it_and_serves(tmp_path, sqlite_template):
    """The worker's hook runs once it has built the app (it logs how many of the app's objects
    it left out of the collector's walks), and the worker then serves pages."""
    port = _free_port()
    database = tmp_path / "crm.sqlite3"
    shutil.copy(sqlite_template, database)  # migrated, empty
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "CRM_ENV": "test", "DATABASE_URL": f"sqlite:///{database}"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(GUNICORN), "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "info", "crm:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        answer = None
        for _ in range(300):
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200, log.read_text()
        ready = [line for line in log.read_text().splitlines() if "left out of the garbage collector" in line]
        assert len(ready) == 1, log.read_text()
        assert int(ready[0].split("ready: ")[1].split()[0]) > 10_000  # the app's modules and mappings at least
    finally:
        server.terminate()
        server.wait(timeout=30)
