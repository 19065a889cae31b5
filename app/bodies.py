"""Bodies nested inside a territory, and the one a report goes to.

A territory is its own root body (the intercommunality, which publishes the platform). Inside it,
bodies may be declared and nested: a commune's town hall for its commune, its technical services
for some categories there, a syndicate for one kind of waste across several communes. Each body
covers communes (none given: its parent's, the whole territory at the root) and report categories
(none given: its parent's, every category at the root); a child never covers more than its parent.

A report goes to the most deeply nested body covering both its commune and its category
(:func:`responsible`); none covering them: the territory itself (``reports.body_id`` is NULL).
Bodies are part of a territory's set-up: ``eclor territory create`` reads them from the settings'
``bodies`` list, and ``eclor territory export`` / ``import`` carry them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from app.models.territory import Body


class BodyError(ValueError):
    """A body that cannot be declared, with a French message for the person declaring it."""


@dataclass(frozen=True)
class Node:
    """A body with what it covers once its parents are taken into account."""

    id: int
    name: str
    parent_id: int | None
    depth: int
    communes: frozenset[str] | None  # None: every commune of the territory
    categories: frozenset[str] | None  # None: every category
    contact_email: str

    def covers(self, commune: str | None, category: str) -> bool:
        return (self.communes is None or commune in self.communes) and (
            self.categories is None or category in self.categories
        )


def nodes(rows: Iterable[Body]) -> list[Node]:
    """The bodies of one territory with their inherited cover, parents before children."""
    by_id = {row.id: row for row in rows}
    done: dict[int, Node] = {}

    def node(row: Body, seen: frozenset[int]) -> Node:
        assert row.id is not None
        if row.id in done:
            return done[row.id]
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        above = node(parent, seen | {row.id}) if parent and parent.id not in seen else None
        communes = frozenset(row.communes) if row.communes else None
        categories = frozenset(row.categories) if row.categories else None
        if above is not None:
            communes = communes if communes is not None else above.communes
            categories = categories if categories is not None else above.categories
        done[row.id] = Node(
            id=row.id,
            name=row.name,
            parent_id=row.parent_id,
            depth=above.depth + 1 if above else 0,
            communes=communes,
            categories=categories,
            contact_email=row.contact_email,
        )
        return done[row.id]

    for row in by_id.values():
        node(row, frozenset())
    return sorted(done.values(), key=lambda n: (n.depth, n.name, n.id))


def of_territory(session: Session, territory_id: int | None) -> list[Node]:
    if territory_id is None:
        return []
    return nodes(session.scalars(select(Body).where(col(Body.territory_id) == territory_id)))


def pick(tree: Sequence[Node], commune: str | None, category: str) -> Node | None:
    """The most deeply nested body of ``tree`` covering the commune and the category (of two at
    the same depth, the first declared)."""
    best: Node | None = None
    for node in tree:
        if node.covers(commune, category) and (
            best is None or (node.depth, -node.id) > (best.depth, -best.id)
        ):
            best = node
    return best


def responsible(
    session: Session, territory_id: int | None, commune: str | None, category: str
) -> Node | None:
    """The body a report of that commune and category goes to; None: the territory itself."""
    return pick(of_territory(session, territory_id), commune, category)


def subtree(tree: Sequence[Node], body_id: int) -> set[int]:
    """The body and every body nested inside it."""
    ids = {body_id}
    grew = True
    while grew:
        more = {n.id for n in tree if n.parent_id in ids} - ids
        grew = bool(more)
        ids |= more
    return ids


def name_of(tree: Sequence[Node], body_id: int | None) -> str | None:
    return next((n.name for n in tree if n.id == body_id), None)


# --- declaring bodies (a territory's set-up) ---------------------------------------------------


def check(
    declared: Any, communes: set[str], categories: set[str], *, key: Any = None
) -> list[dict[str, Any]]:
    """The settings' ``bodies`` list checked: each a name (unique), an optional ``parent`` (the
    name of a body declared before it), ``communes`` (codes of the territory's communes; ``key``
    turns a code into the commune's key), ``categories`` and ``contact_email``. A child covers no
    commune or category its parent does not. Raises :class:`BodyError`."""
    if declared is None:
        return []
    if not isinstance(declared, list):
        raise BodyError(("« bodies » doit être une liste d’organismes."))
    out: list[dict[str, Any]] = []
    cover: dict[str, tuple[set[str] | None, set[str] | None]] = {}
    for i, item in enumerate(declared, start=1):
        if not isinstance(item, dict):
            raise BodyError(("Organisme n° %(n)d : un objet est attendu.") % {"n": i})
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise BodyError(("Organisme n° %(n)d : nom manquant ou trop long.") % {"n": i})
        name = name.strip()
        if name in cover:
            raise BodyError(("L’organisme « %(b)s » est déclaré deux fois.") % {"b": name})
        parent = item.get("parent")
        if parent is not None and parent not in cover:
            raise BodyError(
                ("Organisme « %(b)s » : son parent « %(p)s » doit être déclaré avant lui.")
                % {"b": name, "p": str(parent)[:200]}
            )
        own_communes = _codes(item.get("communes"), name, "communes")
        keys = {key(c) if key else c for c in own_communes}
        unknown = sorted(keys - communes)
        if unknown:
            raise BodyError(
                ("Organisme « %(b)s » : commune inconnue du territoire : %(c)s.")
                % {"b": name, "c": ", ".join(unknown)[:200]}
            )
        own_categories = set(_codes(item.get("categories"), name, "categories"))
        wrong = sorted(own_categories - categories)
        if wrong:
            raise BodyError(
                ("Organisme « %(b)s » : catégorie inconnue : %(c)s.")
                % {"b": name, "c": ", ".join(wrong)[:200]}
            )
        above_communes, above_categories = cover[parent] if parent is not None else (None, None)
        if keys and above_communes is not None and not keys <= above_communes:
            raise BodyError(
                ("Organisme « %(b)s » : il couvre des communes que son parent ne couvre pas.")
                % {"b": name}
            )
        if (
            own_categories
            and above_categories is not None
            and not own_categories <= above_categories
        ):
            raise BodyError(
                ("Organisme « %(b)s » : il traite des catégories que son parent ne traite pas.")
                % {"b": name}
            )
        email = item.get("contact_email", "")
        if not isinstance(email, str) or len(email) > 254 or (email and "@" not in email):
            raise BodyError(("Organisme « %(b)s » : adresse de contact invalide.") % {"b": name})
        cover[name] = (keys or above_communes, own_categories or above_categories)
        out.append(
            {
                "name": name,
                "parent": parent,
                "communes": sorted(keys),
                "categories": sorted(own_categories),
                "contact_email": email.strip(),
            }
        )
    return out


def _codes(value: Any, body: str, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BodyError(
            ("Organisme « %(b)s » : « %(w)s » doit être une liste de codes.")
            % {"b": body, "w": what}
        )
    return [v.strip() for v in value]


def write(session: Session, territory_id: int, checked: list[dict[str, Any]]) -> list[Body]:
    """Add the checked bodies to the territory (parents first, as :func:`check` ordered them)."""
    ids: dict[str, int] = {}
    rows: list[Body] = []
    for item in checked:
        row = Body(
            territory_id=territory_id,
            parent_id=ids[item["parent"]] if item["parent"] is not None else None,
            name=item["name"],
            communes=item["communes"],
            categories=item["categories"],
            contact_email=item["contact_email"],
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        ids[row.name] = row.id
        rows.append(row)
    return rows


def declared(session: Session, territory_id: int) -> list[dict[str, Any]]:
    """The territory's bodies as the settings declare them (parents first): what an export carries."""
    rows = {
        row.id: row
        for row in session.scalars(select(Body).where(col(Body.territory_id) == territory_id))
    }
    tree = nodes(rows.values())  # the same rows, read once
    names = {n.id: n.name for n in tree}
    return [
        {
            "name": n.name,
            "parent": names.get(n.parent_id) if n.parent_id is not None else None,
            "communes": sorted(rows[n.id].communes),
            "categories": sorted(rows[n.id].categories),
            "contact_email": n.contact_email,
        }
        for n in tree
    ]
