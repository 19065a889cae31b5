"""Every string shown to people goes through gettext, and the English catalogue covers them."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from app.i18n import LOCALE_DIR, catalogue, translations

APP = Path(__file__).resolve().parent.parent / "app"
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {
    "templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


def source_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(APP),
        METHOD_MAP,
        OPTIONS,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_every_french_string_has_an_english_translation():
    english = catalogue("en")
    missing = [
        f"{where}: {msgid!r}"
        for msgid, where in sorted(source_messages().items(), key=lambda kv: kv[1])
        if english.get(msgid) is None
    ]
    assert not missing, f"{len(missing)} strings lack an English translation:\n" + "\n".join(
        missing[:60]
    )


def test_translations_keep_the_placeholders_of_their_source():
    english = translations("en")
    wrong = []
    for msgid in source_messages():
        out = english.gettext(msgid)
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(out)):
            wrong.append((msgid, out))
    assert not wrong, wrong[:20]


def test_every_catalogue_file_parses():
    files = sorted((LOCALE_DIR / "en").glob("*.po"))
    assert files
    from babel.messages.pofile import read_po

    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="en")
        assert len(catalog) > 0, po.name
