"""Each territory's categories of dump-site report (``report_categories``).

A territory starts with the seven built-in categories (``DEFAULT_REPORT_CATEGORIES``: the migration
gave them to every territory already there, ``eclor territory create`` to each new one); its admins
add their own, rename, reorder and archive them on the reports' settings page. What lists or checks
categories (the report form, the lists' filters, the staff board, Open311, open data, statistics,
bodies, maintenance rules) reads the territory's through :func:`of_territory`, once per database
session (a request's): a change made through this module forgets the session's copy.

Labels: a built-in category's label is gettext's source string, so it is shown in the reader's
language (``_(label)``); a label staff write is theirs, shown as written in every language.
An archived category is no longer offered; the reports filed under it keep it, and it is still named.
A report handed to another territory whose category that territory does not offer takes the
nearest one it has (:func:`carried_over`): the same label, else "other", else its first category.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import events
from app.i18n import gettext as _
from app.models.reports import DEFAULT_REPORT_CATEGORIES, ReportCategory
from app.reports.catalogue import ReportError
from app.territories import bound

CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")
FALLBACK = "other"  # what a report handed over takes when its new territory lacks its category
_CACHE = "eclor_report_categories"


@dataclass(frozen=True)
class Category:
    id: int | None  # None: a built-in category of a territory that has no rows of its own
    code: str
    label: str  # French source string (built-in: translated when shown) or the staff's label
    hint: str
    position: int
    active: bool


class Labels(dict[str, str]):
    """Code -> label; a code no territory declares names itself (a page never fails on it)."""

    def __missing__(self, key: str) -> str:
        return key


class Categories:
    """One territory's categories, in their order: the active ones first, then the archived."""

    def __init__(self, rows: list[Category]) -> None:
        self.all = sorted(rows, key=lambda c: (not c.active, c.position, c.code))
        self.labels = Labels((c.code, c.label) for c in self.all)  # every one, archived too
        self.offered = {c.code: c.label for c in self.all if c.active}
        self.hints = {c.code: c.hint for c in self.all if c.active}
        self.codes = frozenset(self.labels)

    def name(self, code: str) -> str:
        """The category's name in the reader's language."""
        return _(self.labels[code])

    def is_offered(self, code: str | None) -> bool:
        return code in self.offered


def defaults() -> list[Category]:
    return [
        Category(None, code, label, hint, position, True)
        for position, (code, label, hint) in enumerate(DEFAULT_REPORT_CATEGORIES)
    ]


def _row(r: ReportCategory) -> Category:
    return Category(r.id, r.code, r.label, r.hint, r.position, r.active)


def of_territory(session: Session, territory_id: int | None) -> Categories:
    """The territory's categories (a territory without rows: the built-in ones). None: the whole
    install's (the command line, jobs), each code once, the first territory's label."""
    cache: dict[int | None, Categories] = session.info.setdefault(_CACHE, {})
    if territory_id in cache:
        return cache[territory_id]
    stmt = select(ReportCategory).order_by(
        col(ReportCategory.territory_id), col(ReportCategory.position), col(ReportCategory.id)
    )
    if territory_id is not None:
        stmt = stmt.where(col(ReportCategory.territory_id) == territory_id)
    rows: dict[str, Category] = {}
    for row in session.scalars(stmt):
        rows.setdefault(row.code, _row(row))
    found = Categories(list(rows.values()) or defaults())
    cache[territory_id] = found
    return found


def forget(session: Session) -> None:
    """Drop the session's copies (after a change)."""
    session.info.pop(_CACHE, None)


def of_session(session: Session) -> Categories:
    """The categories of the territory the session is bound to (a request's), else the install's."""
    territory = bound(session)
    return of_territory(session, territory.id if territory is not None else None)


# --- a report handed to another territory --------------------------------------------------------


def carried_over(session: Session, territory_id: int | None, code: str) -> str:
    """The category a report of ``code`` takes in the territory: the same when it offers it, else
    the one of the same label, else "other", else its first; the same code when it offers none
    (a report is never refused for its category once it was accepted)."""
    here = of_territory(session, territory_id)
    if here.is_offered(code) or not here.offered:
        return code
    label = of_territory(session, None).labels[code].casefold()
    same = next((c for c, lab in here.offered.items() if lab.casefold() == label), None)
    if same is not None:
        return same
    if FALLBACK in here.offered:
        return FALLBACK
    return next(iter(here.offered))


# --- staff changes (the reports' settings page) ---------------------------------------------------


def _rows(session: Session, territory_id: int) -> list[ReportCategory]:
    """The territory's rows, in order; the built-in ones written first when it has none."""
    stmt = (
        select(ReportCategory)
        .where(col(ReportCategory.territory_id) == territory_id)
        .order_by(col(ReportCategory.position), col(ReportCategory.id))
    )
    rows = list(session.scalars(stmt))
    if not rows:
        session.add_all(
            ReportCategory(
                territory_id=territory_id,
                code=c.code,
                label=c.label,
                hint=c.hint,
                position=c.position,
            )
            for c in defaults()
        )
        session.flush()
        rows = list(session.scalars(stmt))
    return rows


def _code_of(label: str) -> str:
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:32].rstrip("_")


def _texts(label: str, hint: str) -> tuple[str, str]:
    label, hint = " ".join(label.split()), " ".join(hint.split())
    if not 2 <= len(label) <= 80:
        raise ReportError(_("Le nom de la catégorie doit faire entre 2 et 80 caractères."), "label")
    if len(hint) > 200:
        raise ReportError(_("L’exemple fait 200 caractères au plus."), "hint")
    return label, hint


def _same_label(rows: list[ReportCategory], label: str, but: int | None = None) -> None:
    for row in rows:
        if row.id != but and row.label.casefold() == label.casefold():
            raise ReportError(
                _("Une catégorie s’appelle déjà « %(l)s » sur ce territoire.") % {"l": row.label},
                "label",
            )


def add(
    session: Session, territory_id: int, *, code: str, label: str, hint: str = ""
) -> ReportCategory:
    """A new category of the territory, offered last. Raises :class:`ReportError` (nothing written)
    for a code already used in the territory (archived categories included), or a bad code or name."""
    label, hint = _texts(label, hint)
    code = code.strip().lower() or _code_of(label)
    if not CODE.fullmatch(code):
        raise ReportError(
            _(
                "Le code s’écrit en minuscules sans accent, chiffres et « _ » (2 à 32 caractères, "
                "une lettre d’abord) : « encombrants_2 »."
            ),
            "code",
        )
    rows = _rows(session, territory_id)
    taken = next((r for r in rows if r.code == code), None)
    if taken is not None:
        raise ReportError(
            _("Le code « %(c)s » est déjà celui de la catégorie « %(l)s » sur ce territoire.")
            % {"c": code, "l": _(taken.label)},
            "code",
        )
    _same_label(rows, label)
    row = ReportCategory(
        territory_id=territory_id,
        code=code,
        label=label,
        hint=hint,
        position=max(r.position for r in rows) + 1 if rows else 0,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same code added at the same moment
        raise ReportError(
            _("Le code « %(c)s » est déjà utilisé sur ce territoire.") % {"c": code}, "code"
        ) from None
    forget(session)
    return row


def _one(session: Session, territory_id: int, category_id: int) -> tuple[list[ReportCategory], Any]:
    rows = _rows(session, territory_id)
    row = next((r for r in rows if r.id == category_id), None)
    if row is None:
        raise ReportError(_("Cette catégorie n’existe pas sur ce territoire."), "category")
    return rows, row


def rename(
    session: Session, territory_id: int, category_id: int, *, label: str, hint: str
) -> ReportCategory:
    """A new name and example for the category (its code, and so its reports, stay)."""
    label, hint = _texts(label, hint)
    rows, row = _one(session, territory_id, category_id)
    _same_label(rows, label, but=row.id)
    row.label, row.hint = label, hint
    session.add(row)
    session.flush()
    forget(session)
    # Its reports show the new name: the operations centre's reports layer, kept as text per
    # report, is built again (an event for every feature of the layer).
    events.publish(
        session, "reports", "*", "category_renamed", {"code": row.code}, territory_id=territory_id
    )
    return row


def move(session: Session, territory_id: int, category_id: int, step: int) -> None:
    """Move the category one place up (-1) or down (+1) in the territory's order."""
    rows, row = _one(session, territory_id, category_id)
    i = rows.index(row)
    j = i + (1 if step > 0 else -1)
    if 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
    for position, each in enumerate(rows):
        each.position = position
        session.add(each)
    session.flush()
    forget(session)


def set_active(session: Session, territory_id: int, category_id: int, active: bool) -> None:
    """Archive the category (no longer offered; its reports keep it) or offer it again; the last
    category offered cannot be archived."""
    rows, row = _one(session, territory_id, category_id)
    if not active and row.active and sum(r.active for r in rows) <= 1:
        raise ReportError(_("Gardez au moins une catégorie proposée."), "category")
    row.active = active
    session.add(row)
    session.flush()
    forget(session)


def rows_of(session: Session, territory_id: int) -> list[Category]:
    """The territory's categories as the settings page lists them: in their order, archived too."""
    return sorted(
        of_territory(session, territory_id).all, key=lambda c: (c.position, c.id or 0, c.code)
    )


def carried_text(session: Session, before: str, after: str, territory_id: int | None) -> str:
    """What a report's history says when it changed category on its way to another territory."""
    return _(
        "La catégorie « %(a)s » n’existe pas sur ce territoire : le signalement est classé en "
        "« %(b)s »."
    ) % {
        "a": of_territory(session, None).name(before),
        "b": of_territory(session, territory_id).name(after),
    }
