from celery import shared_task

from . import services


@shared_task
def expire_quotes() -> int:
    return services.expire_quotes()
