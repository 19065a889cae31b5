"""Every string shown to people goes through gettext, and the English catalogue covers them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from app.i18n import LOCALE_DIR, catalogue, translations
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse: demo accounts are many)

APP = Path(__file__).resolve().parent.parent / "app"
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {
    "templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
}
TRANSLATED = sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir() and any(p.glob("*.po")))
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "NC_": ((1, "c"), 2),
}


def source_messages() -> dict[tuple[str, str | None], str]:
    """(msgid, context) → where it is first written (context None: the message's only meaning)."""
    found: dict[tuple[str, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(APP), METHOD_MAP, OPTIONS, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((msgid, context), f"{filename}:{lineno}")
    return found


def _translate(translated, msgid: str, context: str | None) -> str:
    return translated.pgettext(context, msgid) if context else translated.gettext(msgid)


def test_every_french_string_has_an_english_translation():
    english = catalogue("en")
    missing = [
        f"{where}: {msgid!r}" + (f" ({context})" if context else "")
        for (msgid, context), where in sorted(source_messages().items(), key=lambda kv: kv[1])
        if english.get(msgid, context) is None
    ]
    assert not missing, f"{len(missing)} strings lack an English translation:\n" + "\n".join(
        missing[:60]
    )


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_the_placeholders_of_their_source(locale):
    translated = translations(locale)
    wrong = []
    for msgid, context in source_messages():
        out = _translate(translated, msgid, context)
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(out)):
            wrong.append((msgid, out))
    assert not wrong, wrong[:20]


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_catalogue_file_parses(locale):
    files = sorted((LOCALE_DIR / locale).glob("*.po"))
    assert files
    from babel.messages.pofile import read_po

    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        assert len(catalog) > 0, po.name


def _ids(po: Path, locale: str) -> set[tuple[str, str | None]]:
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        return {
            (str(m.id if isinstance(m.id, str) else m.id[0]), m.context)
            for m in read_po(fh, locale=locale)
            if m.id
        }


@pytest.mark.parametrize("locale", ["de", "lb"])
def test_each_german_or_luxembourgish_catalogue_file_translates_its_whole_domain(locale):
    """German and Luxembourgish cover domains whole (a string of a domain they lack would show in
    another language amid theirs): each file has every message of the English file of the same
    domain, each translated."""
    from babel.messages.pofile import read_po

    files = sorted((LOCALE_DIR / locale).glob("*.po"))
    assert files
    for po in files:
        english = LOCALE_DIR / "en" / po.name
        assert english.exists(), f"{po.name}: no such domain"
        with po.open("rb") as fh:
            untranslated = [m.id for m in read_po(fh, locale=locale) if m.id and not m.string]
        assert not untranslated, (po.name, untranslated[:5])
        assert _ids(po, locale) == _ids(english, "en"), po.name


@pytest.mark.parametrize("locale", TRANSLATED)
def test_a_message_has_one_translation_in_each_language(locale):
    """The files of a language are merged into one catalogue: a message translated two ways in two
    files would show one of them everywhere (a report "In force", the return leg of a trip "Back").
    A French string with two meanings has a context per meaning (``pgettext``, ``NC_``)."""
    from babel.messages.pofile import read_po

    seen: dict[tuple[str, str | None], dict[str, str]] = {}
    for po in sorted((LOCALE_DIR / locale).glob("*.po")):
        with po.open("rb") as fh:
            for m in read_po(fh, locale=locale):
                if m.id and m.string:
                    msgid = str(m.id if isinstance(m.id, str) else m.id[0])
                    seen.setdefault((msgid, m.context), {})[po.stem] = str(m.string)
    twice = {key: files for key, files in seen.items() if len(set(files.values())) > 1}
    assert not twice, twice


# French strings of two meanings: (context, msgid, English, German) of the meaning the context gives,
# against the same string without context (English, German).
MEANINGS = (
    ("alert state", "En cours", "In force", "Aktuell gültig", "In progress", "In Bearbeitung"),
    ("loan state", "En cours", "Under way", "Ausgeliehen", "In progress", "In Bearbeitung"),
    ("shop orders", "En cours", "Open", "Offen", "In progress", "In Bearbeitung"),
    ("alarm filter", "En cours", "Ongoing", "Aktiv", "In progress", "In Bearbeitung"),
    ("tab bar", "Covoiturage", "Carpool", "Mitfahren", "Carpooling", "Fahrgemeinschaften"),
    ("return trip", "Retour", "Return", "Rückfahrt", "Back", "Zurück"),
    ("time range end", "à", "to", "bis", "at", "um"),
    ("lighting commands", "Commandes", "Commands", "Schaltbefehle", "Orders", "Bestellungen"),
    ("shop order", "Retirée", "Collected", "Abgeholt", "Withdrawn", "Zurückgezogen"),
    ("item condition", "État", "Condition", "Zustand", "Status", "Status"),
    ("wanted item", "Recherche", "Wanted", "Gesucht", "Search", "Suche"),
    ("followed report", "Suivi", "Following", "Abonniert", "Follow-up", "Verlauf"),
    ("turnout", "Participation", "Turnout", "Beteiligung", "Contribution", "Kostenbeteiligung"),
    ("appointment", "Terminée", "Done", "Erledigt", "Over", "Beendet"),
    ("proposal", "Refusée", "Rejected", "Abgelehnt", "Declined", "Abgelehnt"),
)


@pytest.mark.parametrize("context, msgid, en, de, en_plain, de_plain", MEANINGS)
def test_a_french_string_of_two_meanings_is_translated_by_its_context(
    context, msgid, en, de, en_plain, de_plain
):
    for locale, meant, plain in (("en", en, en_plain), ("de", de, de_plain)):
        translated = translations(locale)
        assert translated.pgettext(context, msgid) == meant, (locale, context)
        assert translated.gettext(msgid) == plain, (locale, msgid)
    assert en != en_plain


def test_a_label_kept_with_its_context_is_shown_in_that_meaning():
    """Tables of labels shown later through ``_()`` keep their context (``NC_``): a report in progress
    and an alert in force both read "En cours" in French, and differ in English and German."""
    from app.alerts.ops import STATES as ALERT_STATES
    from app.i18n import gettext
    from app.reports.catalogue import STATUSES
    from app.shops.orders import ORDER_LABELS
    from app.templating import bound_locale

    assert ALERT_STATES["active"] == STATUSES["in_progress"] == "En cours"
    shown = {}
    for locale in ("fr", "en", "de"):
        with bound_locale(locale):
            shown[locale] = (
                gettext(STATUSES["in_progress"]),
                gettext(ALERT_STATES["active"]),
                gettext(ORDER_LABELS["collected"]),
            )
    assert shown == {
        "fr": ("En cours", "En cours", "Retirée"),
        "en": ("In progress", "In force", "Collected"),
        "de": ("In Bearbeitung", "Aktuell gültig", "Abgeholt"),
    }


def test_the_links_of_every_domain_have_an_english_translation():
    """Links are declared in French and translated where shown (``_(link.title)``): Babel cannot
    extract them, so the catalogue is checked against the registry."""
    from app import domains

    english = catalogue("en")
    missing = [
        text
        for domain in domains.DOMAINS
        for link in (*domain.staff_links, *domain.account_links)
        for text in (link.title, link.description)
        if text and english.get(text) is None
    ]
    assert not missing, missing


# --------------------------------------------------------------------------- pages read in English

# Words that are French and not English: one of them in an English page is French text that did not go
# through gettext (or a catalogue without it). Days and months catch dates not formatted by Babel.
FRENCH_WORDS = frozenset(
    """le la les des du une est pour avec dans vous votre vos sur aucun aucune être sont pas aux cette
    ces qui que leur mais très tous toutes nous notre nos ici depuis jusqu chaque sans déjà encore puis
    selon lundi mardi mercredi jeudi vendredi samedi dimanche janvier février avril juin juillet août
    septembre octobre novembre décembre janv févr avr juil déc heure heures jour jours semaine mois
    année oui et où aujourd hier demain envoyer enregistrer voir fermer annuler supprimer modifier
    ajouter rechercher connexion compte signalement signalements trajet trajets covoiturage éclairage
    alertes déchèterie publier réserver commande commandes boutique objets carte aide""".split()
)
FRENCH_LETTERS = re.compile(r"[àâçéèêëîïôûùœ]")
# The language switcher names each language in itself; the authority's name is a proper noun, and so
# are the names of the national renovation aids and of the region their income scale leaves out.
ALLOWED = (
    "Français",
    "Communauté de communes du Pays-Haut Val d’Alzette",
    "MaPrimeRénov’",
    "France Rénov’",
    "Île-de-France",
)
SKIPPED = ("/logout", "/source", "/static/", "/media/", "/open311", "/ngsi-ld", "/staff/ops/stream")
FILES = (
    ".csv",
    ".json",
    ".jsonld",
    ".xml",
    ".geojson",
    ".ttl",
    ".rdf",
    ".svg",
    ".png",
    ".ics",
    ".webp",
)


class _Text(HTMLParser):
    """Visible text and the attributes people read (alt, title, aria-label, placeholder), and links."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.texts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style", "svg", "template", "code"):  # code: identifiers, not prose
            self.skip += 1
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        for name in ("alt", "title", "aria-label", "placeholder"):
            if values.get(name):
                self.texts.append(values[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg", "template", "code") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _data_strings(engine, settings) -> list[str]:
    """Every text stored in the database (names, descriptions, messages: data, not interface), the
    names set in the settings (the authority's) and the open-data catalogue's own metadata (dataset
    titles, descriptions, CNIL answers, suppression notes, the schemas followed and the columns'
    names and units are published in French, like the data)."""
    from sqlalchemy import select
    from sqlmodel import SQLModel

    from app import domains

    found: set[str] = {v for v in vars(settings).values() if isinstance(v, str) and len(v) > 3}
    for dataset in domains.open_datasets():
        found.update((dataset.title, dataset.description, dataset.slug, *dataset.keywords))
        cnil = dataset.cnil
        found.update((dataset.suppression, cnil.singling_out, cnil.linkability, cnil.inference))
        found.update(title for _url, title in dataset.conforms_to)
        for column in dataset.columns:
            found.update((column.title, column.name, column.unit))
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(select(*table.columns)):
                for value in row:
                    if not isinstance(value, str) or len(value) < 3:
                        continue
                    found.add(" ".join(value.split()))
                    if "\n" in value:  # one item a line (a question's options)
                        found.update(line.strip() for line in value.splitlines() if line.strip())
                    if value[:1] in "[{":
                        found.update(re.findall(r'"((?:[^"\\]|\\.){3,})"', value))
    for value in list(found):  # the data as it reads once the proper nouns are taken out
        for allowed in ALLOWED:
            value = value.replace(allowed, " ")
        found.add(value)
    return sorted(found, key=len, reverse=True)


def _french(text: str, data: list[str]) -> bool:
    for allowed in ALLOWED:
        text = text.replace(allowed, " ")
    words = re.findall(r"[a-zàâçéèêëîïôûùœ]+", text.lower())
    if not any(w in FRENCH_WORDS or FRENCH_LETTERS.search(w) for w in words):
        return False
    for value in data:  # what remains once the stored data is taken out
        if value in text:
            text = text.replace(value, " ")
    words = re.findall(r"[a-zàâçéèêëîïôûùœ]+", text.lower())
    return any(w in FRENCH_WORDS or FRENCH_LETTERS.search(w) for w in words)


def _crawl(client, starts: list[str], limit: int) -> dict[str, list[str]]:
    """path → visible texts, following links from ``starts``, two pages per kind of address."""
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    pages: dict[str, list[str]] = {}
    queue = list(starts)
    while queue and len(pages) < limit:
        path = queue.pop(0).split("#")[0]
        kind = re.sub(r"\d+|[?].*", "N", path)
        if path in seen or not path.startswith("/") or path.startswith(SKIPPED):
            continue
        seen.add(path)
        if path.split("?")[0].endswith(FILES) or kinds.get(kind, 0) >= 2:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        answer = client.get(path, follow_redirects=True)
        if answer.status_code != 200 or "text/html" not in answer.headers.get("content-type", ""):
            continue
        parser = _Text()
        parser.feed(answer.text)
        pages[path] = parser.texts
        queue.extend(link for link in parser.links if link.startswith("/"))
    return pages


@pytest.mark.timeout(600)
def test_pages_read_in_english_show_no_french_but_the_data(app, engine, settings):
    """Every page a visitor, a resident, a shopkeeper, staff and an admin reach from their home page,
    read in English with the demo data: any French left, once the stored data is taken out, is an
    interface string that does not go through gettext or lacks its English translation."""
    from app import domains
    from app.demo import DEMO_PASSWORD, load_all
    from tests.conftest import EclorClient

    load_all(engine, domains.demo_loaders())
    data = _data_strings(engine, settings)
    untranslated: dict[str, str] = {}
    visited = 0
    for email, starts in (
        (None, ["/", "/data", "/alerts", "/waste-centre", "/traffic"]),
        ("habitant@eclor.test", ["/", "/me", "/me/push", "/reports/new", "/carpool/ads/new"]),
        ("commercant@eclor.test", ["/", "/me", "/shops/manage"]),
        ("agent@eclor.test", ["/staff", "/staff/ops", "/staff/reports", "/staff/lighting"]),
        ("admin@eclor.test", ["/staff", "/admin/users"]),
        ("ccas@eclor.test", ["/me", "/solidarity/ccas", "/solidarity/calls"]),
    ):
        with EclorClient(app=app) as client:
            client.cookies.set("lang", "en", domain="testserver.local")
            if email:
                signed = client.post(
                    "/login",
                    data={
                        "email": email,
                        "password": DEMO_PASSWORD,
                        "_csrf_token": client.csrf_token(),
                    },
                    follow_redirects=False,
                )
                assert signed.status_code == 303, (email, signed.status_code)
            pages = _crawl(client, starts, 120)
        visited += len(pages)
        for path, texts in pages.items():
            for text in texts:
                if text not in untranslated and _french(text, data):
                    untranslated[text] = path
    assert visited > 150, visited
    assert not untranslated, f"{len(untranslated)} French texts on English pages:\n" + "\n".join(
        f"{path}: {text[:140]!r}"
        for text, path in sorted(untranslated.items(), key=lambda kv: kv[1])
    )
