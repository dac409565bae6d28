from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "acquitte.subscriptions"
    label = "subscriptions"
    verbose_name = _("Abonnements")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the receivers)
