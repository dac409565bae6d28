"""Celery application: scheduled runs and background work. Eager (in-process) without Redis."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "acquitte.settings")

app = Celery("acquitte")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
