from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and ``load_demo``. It drives every app through its services, so it sits on top of them."""

    name = "acquitte.demo"
    label = "demo"
