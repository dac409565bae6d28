"""The settings the tests run with: production settings (DEBUG off), with keys of their own.

The keys are neither the public development key nor anyone's production key, so a test can forge
with the development key and expect a refusal.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-the-development-one-4f9c2e7a1b3d")
os.environ.setdefault("ACQUITTE_ENCRYPTION_KEY", "dGVzdHMtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzISE=")

from acquitte.settings import *  # noqa: F403
