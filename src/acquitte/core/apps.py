from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "acquitte.core"
    label = "core"
    verbose_name = "Acquitte"
