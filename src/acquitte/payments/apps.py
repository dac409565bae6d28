from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "acquitte.payments"
    label = "payments"
    verbose_name = _("Paiements")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects to the signals of lower apps)
