"""A real server process for tests/test_ratelimit.py: the app (its settings from the
environment, as in production) on a loopback port, which it prints as ``port N``.

    CRM_ENV=test DATABASE_URL=… CRM_RATELIMIT_STORAGE_URI=redis://… \\
    TEST_PARTNER_API_RATE=0.1,10 python -m tests.ratelimit_server
"""

from __future__ import annotations

import os
import sys

from werkzeug.serving import make_server


def main() -> None:
    from crm.app import create_app

    rate, burst = os.environ["TEST_PARTNER_API_RATE"].split(",")
    app = create_app({"env": "test", "PARTNER_API_RATE": (float(rate), int(burst))})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"port {server.server_port}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
