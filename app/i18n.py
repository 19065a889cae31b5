"""Translations: French first (the source language of every string), then English, German and
Luxembourgish.

Strings in code and templates are written in French and go through
``gettext``; the catalogues live in ``app/locale/<locale>/*.po`` (one file per
domain, merged at load). English and German cover every string; Luxembourgish covers the
residents' side, and a string it lacks is read in German (then French). The locale of the
current request is held in a context variable, so the same Jinja environment
serves every language.

Each territory offers its own languages (``territories.languages``, in its
order of preference): a request is answered in one of those Eclor has, chosen
by the person (cookie ``lang``), then their browser, then the territory's first.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LOCALE = "fr"
LOCALES = ("fr", "en", "de", "lb")
LOCALE_NAMES = {"fr": "Français", "en": "English", "de": "Deutsch", "lb": "Lëtzebuergesch"}
# A language whose catalogues cover part of Eclor: what it lacks is read in this one (then French).
FALLBACK = {"lb": "de"}

current_locale: ContextVar[str] = ContextVar("eclor_locale", default=SOURCE_LOCALE)
# The reader's time zone: the territory's whose host they asked (times are shown in it).
DEFAULT_TIMEZONE = "Europe/Paris"  # the first territory's, as the foundation migration made it
current_timezone: ContextVar[str] = ContextVar("eclor_timezone", default=DEFAULT_TIMEZONE)


def zone(name: str | None = None) -> ZoneInfo:
    """The ``ZoneInfo`` of a time-zone name (a territory's ``timezone``); without one, the
    reader's (:data:`current_timezone`, the territory of the host asked)."""
    return _zone(name or current_timezone.get())


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    # A name the tz database does not know (a row written by hand) gives the first territory's
    # zone rather than an error in the middle of a job.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


@lru_cache(maxsize=None)
def catalogue(locale: str) -> Catalog:
    """Every translated message of ``locale``, merged from its ``*.po`` files."""
    merged = Catalog(locale=locale)
    for po in sorted((LOCALE_DIR / locale).glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@lru_cache(maxsize=None)
def translations(locale: str) -> _gettext.NullTranslations:
    """The merged catalogue of ``locale`` (French is the source: no catalogue needed)."""
    if locale == SOURCE_LOCALE or not (LOCALE_DIR / locale).is_dir():
        return _gettext.NullTranslations()
    merged = catalogue(locale)
    buf = BytesIO()
    write_mo(buf, merged)
    buf.seek(0)
    out = _gettext.GNUTranslations(buf)
    if locale in FALLBACK:
        out.add_fallback(translations(FALLBACK[locale]))
    return out


class Contextual(str):
    """A French message and the context that gives its meaning (``msgctxt``): shown through
    ``gettext`` like any label, it is translated as ``pgettext(context, message)``."""

    context: str

    def __new__(cls, context: str, message: str) -> Contextual:
        out = super().__new__(cls, message)
        out.context = context
        return out


def NC_(context: str, message: str) -> str:  # noqa: N802  (the marker's usual name, like N_)
    """Marks ``message`` for extraction with its ``context`` (keyword ``NC_:1c,2``) and keeps the
    context for the ``gettext`` that shows it later."""
    return Contextual(context, message)


def gettext(message: str) -> str:
    context = getattr(message, "context", None)
    if context is not None:
        return pgettext(context, message)
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the meaning ``context`` gives it (its own catalogue entry, ``msgctxt``)."""
    return translations(current_locale.get()).pgettext(context, str(message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).npgettext(context, singular, plural, n)


_ = gettext


def offered(languages: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The languages of a territory Eclor can show, in the territory's order (French when it
    names none Eclor has: every string exists in French)."""
    out = tuple(dict.fromkeys(lang for lang in languages if lang in LOCALES))
    return out or (SOURCE_LOCALE,)


def pick_locale(
    cookie: str | None, accept_language: str | None, languages: tuple[str, ...] = LOCALES
) -> str:
    """Among the ``languages`` offered (the territory's, first preferred): the person's choice
    (cookie ``lang``) first, then the browser's, then the first offered."""
    if cookie in languages:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in languages:
            return tag
    return languages[0] if languages else SOURCE_LOCALE
