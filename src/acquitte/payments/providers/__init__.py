"""Payment providers behind one interface; ``get_provider`` picks one by name."""

from .base import Provider


def get_provider(name: str) -> Provider:
    from .sandbox import SandboxProvider

    providers = {"sandbox": SandboxProvider}
    if name not in providers:
        raise LookupError(name)
    return providers[name]()
