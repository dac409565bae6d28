# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Webhook events accepted per second over real HTTP, by gunicorn worker processes.

    uv run python bench/webhooks_http.py [SECONDS] [WORKERS] [CONNECTIONS]   (default 10, 4, 16)

bench/payments.py measures the inbox in one process; a deployment runs several. This starts
gunicorn (sync workers) on a free local port against the configured database, with tasks sent to
Redis (REDIS_URL, default redis://127.0.0.1:6379/15) as in production, and drives it with wrk
(Debian package `wrk`) for SECONDS over CONNECTIONS connections: each request is a distinct
signed sandbox event (signatures made beforehand, bench/webhooks_http.lua replays them). It prints
the requests per second wrk measured and checks that every event answered was stored once. wrk
shares the machine's cores with the server, so the figure is a floor.
"""

import json
import re
import tempfile
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection

from acquitte.payments import services
from acquitte.payments.models import WebhookEvent
from acquitte.payments.providers.sandbox import sign
from tests import factories


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(seconds: int, workers: int, connections: int) -> None:
    call_command("migrate", verbosity=0)
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    secret = services.webhook_secret(provider="sandbox", organisation=org)
    n = 3000 * seconds  # more events than the server can take in the time: none is sent twice
    events = Path(tempfile.mkdtemp()) / "events.tsv"
    with events.open("w") as out:
        for i in range(n):
            body = json.dumps(
                {
                    "id": f"evt_{uuid.uuid4().hex}",
                    "type": "payment.paid_out",
                    "created": int(time.time()),
                    "data": {"reference": f"sbx_ch_{i}"},
                }
            )
            out.write(f"{sign(body.encode(), secret)}\t{body}\n")
    connection.close()
    port = _free_port()
    env = dict(
        os.environ,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        ALLOWED_HOSTS="127.0.0.1",
        PYTHONPATH="src",
        LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "acquitte.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}/webhooks/sandbox/{org.slug}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        print(
            f"database: {connection.vendor}; gunicorn workers: {workers}; connections: {connections}",
            flush=True,
        )
        threads = 2
        script = Path(__file__).with_name("webhooks_http.lua")
        run = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "-s",
                str(script),
                url,
                "--",
                str(events),
                str(threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        server.terminate()
        server.wait()
    print(run.stdout.strip())
    answered = int(re.search(r"(\d+) requests in", run.stdout).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)
    stored = WebhookEvent.objects.filter(organisation=org).count()
    assert errors is None, errors.group(0)
    assert answered <= stored <= answered + connections, (answered, stored)  # in flight when wrk stopped
    print(f"{stored} distinct events stored once")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", run.stdout).group(1))
    print(f"http_webhooks_per_s: {rate:.0f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [10, 4, 16][len(args) :]))
