"""English is complete: every French message of the interface has its translation."""

import re
from pathlib import Path

from django.utils import translation

import acquitte

PO = Path(acquitte.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def test_every_message_is_translated():
    text = PO.read_text()
    entries = re.findall(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', text, re.M)
    untranslated = [mid for mid, mstr in entries[1:] if mstr.strip() == '""']
    assert untranslated == []
    assert "#, fuzzy" not in text


def test_compiled_catalogue_is_used():
    with translation.override("en"):
        assert translation.gettext("Non payée") == "Unpaid"
        assert translation.gettext("Objet introuvable.") == "Not found."
