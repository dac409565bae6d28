"""``--workers W`` for the run benchmarks: W Celery workers on the default queue and one on the
outbox, started for the measure and stopped after it (imported after ``_setup``)."""

import contextlib
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from tests.subscriptions.live import Worker, celery_workers


def workers_for(count: int) -> contextlib.AbstractContextManager[list[Worker]]:
    """That many Celery worker processes share the run; without any, it runs in process."""
    if not count:
        return contextlib.nullcontext([])
    if settings.CELERY_TASK_ALWAYS_EAGER:
        sys.exit("--workers needs REDIS_URL (a Redis database of its own: it is emptied)")
    names = [f"bench{k + 1}" for k in range(count)]
    queues = {name: "celery" for name in names} | {"outbox": "outbox"}
    return celery_workers(
        [*names, "outbox"], Path(tempfile.mkdtemp()), redis_url=settings.REDIS_URL, queues=queues
    )


def parse_args(default_n: int) -> tuple[int, int]:
    """``N [--workers W]`` from the command line."""
    args, workers = sys.argv[1:], 0
    if "--workers" in args:
        at = args.index("--workers")
        workers = int(args[at + 1])
        del args[at : at + 2]
    return (int(args[0]) if args else default_n), workers
