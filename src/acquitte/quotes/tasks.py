from celery import shared_task

from acquitte.core.actors import System

from . import services


@shared_task
def expire_quotes() -> int:
    return services.expire_quotes(actor=System(reason="expire_quotes"))
