"""Real processes on the test database: billing runs in child processes, and Celery workers.

The tests that use this are transactional (the ``postgres`` marker makes them so): what a test
writes is committed, so a child connected to the same database sees it, and the flush after the
test removes what the children wrote as well. That database is pytest-django's test database,
``test_<name>`` with a ``_gw<n>`` suffix per xdist worker, so parallel workers never share one;
the children are told its name through ``DATABASE_URL``, which is what production reads too.

Run as a module, it is the child: ``python -m tests.subscriptions.live ORG_SLUG YYYY-MM-DD
[--chunk-size N] [--hold]`` starts Django, prints ``ready`` and waits for a line on its standard
input, then bills that organisation for that date through ``run_billing`` (what ``manage.py
billing_run`` calls), printing ``chunk <done>/<total>`` after each chunk. Django takes seconds to
start on a loaded machine, so the go-ahead is what makes two children start their runs at once.
With ``--hold`` it also waits for a line before each next chunk, so a test decides exactly where a
run stands when it kills it.

Models are imported inside the functions that use them: run as a module, this file is loaded
before Django is set up.
"""

import contextlib
import datetime
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
#: The Redis database of the worker tests (emptied by them); ACQUITTE_TEST_REDIS_URL moves it.
REDIS_URL = os.environ.get("ACQUITTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
#: How long a child may take to start Django (seconds on an idle machine, far more on a loaded one).
STARTUP = 120.0


def database_url() -> str:
    """The URL of the database this test process is connected to (its test database)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"])
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(var_dir: Path, *, redis_url: str | None = None) -> dict[str, str]:
    """The environment of a child: the test settings on this test database, e-mails kept in memory,
    files under ``var_dir``, and Celery on ``redis_url`` (eager, in the child, without one)."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "REDIS_CACHE_URL"}}
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        ACQUITTE_VAR_DIR=str(var_dir),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DB_CONN_MAX_AGE="0",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class BillingChild:
    """A child process that bills one organisation for one date (see the module's docstring)."""

    def __init__(
        self,
        slug: str,
        as_of: datetime.date,
        var_dir: Path,
        *,
        chunk_size: int = 500,
        hold: bool = False,
        redis_url: str | None = None,
    ) -> None:
        args = [sys.executable, "-m", "tests.subscriptions.live", slug, as_of.isoformat()]
        self.process = subprocess.Popen(
            [*args, "--chunk-size", str(chunk_size), *(["--hold"] if hold else [])],
            cwd=ROOT,
            env=child_env(var_dir, redis_url=redis_url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def read(self, prefix: str, *, timeout: float = STARTUP) -> str:
        """The child's next line that starts with ``prefix`` (others are kept in ``output``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                stop(self.process)
                raise AssertionError(
                    f"no {prefix!r} from the child in {timeout:.0f} s:\n{self.text()}"
                ) from None
            if line is None:
                raise AssertionError(f"the child ended before {prefix!r}:\n{self.text()}")
            self.output.append(line)
            if line.startswith(prefix):
                return line.strip()

    def text(self) -> str:
        return "".join(self.output)[-3000:]

    def go(self) -> None:
        """Let the child start its run, or (``hold``) its next chunk."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self, *, timeout: float = 60) -> str:
        """Wait for the end of the run; its summary line (``invoices N failures N``)."""
        try:
            summary = self.read("invoices ", timeout=timeout)
            self.process.wait(timeout=10)
        finally:
            stop(self.process)
        assert self.process.returncode == 0, self.text()
        return summary


def manage(*args: str, var_dir: Path) -> subprocess.Popen[str]:
    """``manage.py`` in a child process on the test database."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env(var_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[Any], *, grace: float = 10.0) -> None:
    """Stop a child we started (and whatever it forked: its own session): SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def redis_available(url: str = REDIS_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def flush_redis(url: str = REDIS_URL) -> None:
    """Empty the Redis database the workers use (ours alone: the tests are given its number)."""
    redis.Redis.from_url(url).flushdb()


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.text()[-3000:]}")
            return " ready." in self.text()

        wait_until(ready, timeout=STARTUP, what=f"worker {self.name} to be ready")

    def tasks_succeeded(self, task: str) -> int:
        """How many ``task`` this worker finished, from its log (Celery logs each one at INFO)."""
        return sum(
            1 for line in self.text().splitlines() if f"Task {task}[" in line and " succeeded " in line
        )


@contextlib.contextmanager
def celery_workers(
    names: list[str], var_dir: Path, *, redis_url: str = REDIS_URL, queues: dict[str, str] | None = None
) -> Iterator[list[Worker]]:
    """Real Celery worker processes on Redis, one task at a time each, stopped whatever happens.
    They are started, not ready: ``Worker.wait_ready`` before counting on them. ``queues`` gives a
    worker's ``-Q`` by name; the others take every queue, as a worker started without it does."""
    flush_redis(redis_url)
    workers: list[Worker] = []
    try:
        for name in names:
            log = var_dir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "acquitte",
                        "worker",
                        "--concurrency=1",
                        "--prefetch-multiplier=1",
                        "-n",
                        f"{name}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel=INFO",
                        *(["-Q", queues[name]] if queues and name in queues else []),
                    ],
                    cwd=ROOT,
                    env=child_env(var_dir, redis_url=redis_url),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            workers.append(Worker(name=name, process=process, log=log))
        yield workers
    finally:
        for worker in workers:
            stop(worker.process)
        flush_redis(redis_url)


#: What ``many_subscriptions`` gives each customer: (product sku, price, kind, quantity, site index).
PLAN = [
    ("TEL-1", "30.00", "monthly", "1", 0),
    ("INT-1", "12.35", "monthly", "2", 1),
    ("DOM-1", "119.99", "yearly", "1", 0),
]


def many_subscriptions(organisation: Any, *, customers: int, started_on: datetime.date) -> None:
    """``customers`` customers with two sites each and the subscriptions of ``PLAN``, written in bulk
    (a few thousand in a second or two)."""
    from acquitte.catalog.models import Product
    from acquitte.customers.models import Address, Customer, Site
    from acquitte.subscriptions.models import Subscription
    from tests import factories

    products = [
        factories.product(organisation, sku=sku, price=price, kind=Product.Kind(kind), name=f"Service {sku}")
        for sku, price, kind, _quantity, _site in PLAN
    ]
    made = Customer.objects.bulk_create(
        Customer(
            organisation=organisation,
            number=f"B{n:06d}",
            name=f"Client {n:06d}",
            email=f"client{n}@example.test",
            currency=organisation.currency,
        )
        for n in range(customers)
    )
    place = {"city": "Montréal", "region": "QC", "postal_code": "H2X 2T3", "country": organisation.country}
    Address.objects.bulk_create(
        Address(customer=c, line1=f"{c.number} rue Principale", is_default=True, **place) for c in made
    )
    sites = Site.objects.bulk_create(
        Site(customer=c, name=f"Site {k + 1}", line1=f"{k + 1} rue du Port", **place)
        for c in made
        for k in (0, 1)
    )
    Subscription.objects.bulk_create(
        Subscription(
            organisation=organisation,
            customer=c,
            site=sites[2 * i + site],
            product=product,
            description=product.name,
            quantity=Decimal(quantity),
            unit_price=product.unit_price,
            period=Subscription.Period(kind),
            started_on=started_on,
        )
        for i, c in enumerate(made)
        for product, (_sku, _price, kind, quantity, site) in zip(products, PLAN, strict=True)
    )


def _bill(argv: list[str]) -> None:
    import argparse

    import django

    django.setup()
    from acquitte.core.actors import System
    from acquitte.customers.models import Organisation
    from acquitte.subscriptions.services import run_billing

    parser = argparse.ArgumentParser(prog="python -m tests.subscriptions.live")
    parser.add_argument("slug")
    parser.add_argument("as_of", type=datetime.date.fromisoformat)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--hold", action="store_true")
    options = parser.parse_args(argv)

    def progress(done: int, total: int) -> None:
        print(f"chunk {done}/{total}", flush=True)
        if options.hold and done < total:
            sys.stdin.readline()

    print("ready", flush=True)  # Django is up: the slow part of a start is behind us
    sys.stdin.readline()
    summary = run_billing(
        organisation=Organisation.objects.get(slug=options.slug),
        as_of=options.as_of,
        actor=System(reason="test billing run"),
        chunk_size=options.chunk_size,
        progress=progress,
    )
    print(f"invoices {summary.invoices} failures {summary.failures}", flush=True)


if __name__ == "__main__":
    _bill(sys.argv[1:])
