from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "acquitte.core"
    label = "core"
    verbose_name = "Acquitte"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from . import lookups  # noqa: F401  (registers ``__any_of``)
        from .signin import log_lockout

        user_locked_out.connect(log_lockout, dispatch_uid="acquitte.core.signin.log_lockout")
