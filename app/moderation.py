"""Moderation of residents' ads, one mechanism for every domain that has them (carpool, sharing).

Staff hide an ad with a reason from :data:`REASONS` (and an optional note);
the ad is kept, not deleted, so it can be restored; its owner is told both
times, with the reason. Each domain stores the state on its own rows and
calls :func:`hide` / :func:`restore` to do the rest the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from app.i18n import gettext as _
from app.notify import notify


def N_(message: str) -> str:
    return message


REASONS: dict[str, str] = {
    "commercial": N_("Annonce commerciale ou service payant"),
    "fake": N_("Fausse annonce"),
    "offensive": N_("Contenu choquant ou discriminatoire"),
    "behaviour": N_("Comportement inapproprié"),
    "forbidden": N_("Objet ou service interdit"),
    "other": N_("Autre raison"),
}


class ModerationError(ValueError):
    """A moderation that cannot be done; the message is in French."""


@dataclass(frozen=True)
class Ad:
    """What moderation needs to know of an ad, whatever its domain."""

    owner_id: int
    title: str
    url: str
    topic: str  # the notification topic of the domain ("carpool", "sharing")


def reason_text(code: str, note: str = "") -> str:
    """The reason as kept on the ad and shown to its owner: « Fausse annonce — précision »."""
    if code not in REASONS:
        raise ModerationError(_("Choisissez le motif."))
    note = " ".join(note.split())[:300]
    return _(REASONS[code]) + (f" — {note}" if note else "")


def hide(session: Session, ad: Ad, reason: str, *, dedupe: str) -> None:
    """Tell the owner their ad is hidden, and why (the caller has set the ad's state)."""
    notify(
        session,
        [ad.owner_id],
        topic=ad.topic,
        title=_("Annonce masquée par la modération"),
        body=_(
            "Votre annonce « %(t)s » a été masquée. Motif : %(r)s. Vous pouvez répondre à l’équipe "
            "si c’est une erreur."
        )
        % {"t": ad.title, "r": reason},
        url=ad.url,
        dedupe=dedupe,
    )


def restore(session: Session, ad: Ad, *, dedupe: str) -> None:
    """Tell the owner their ad is visible again (the caller has set the ad's state)."""
    notify(
        session,
        [ad.owner_id],
        topic=ad.topic,
        title=_("Annonce rétablie"),
        body=_("Votre annonce « %(t)s » est de nouveau visible.") % {"t": ad.title},
        url=ad.url,
        dedupe=dedupe,
    )
