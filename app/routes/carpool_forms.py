"""Reading the carpool forms: search queries and ads, with their limits and defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from litestar import Request
from sqlmodel import Session, col, select

from app import geo
from app.auth import CurrentUser, current_user
from app.carpool import ads as cp
from app.carpool import matching, shares
from app.carpool import trips as carpool_trips
from app.carpool.week import regular_days
from app.db import utcnow
from app.i18n import gettext as _
from app.models.accounts import User
from app.territories import request_territory
from app.territories import zone as territory_zone

MARGINS = (0, 10, 15, 30, 45, 60)
RADII = (2000, 5000, 10000)
PRICES = tuple(range(carpool_trips.MAX_PRICE_PER_KM_CENTS + 1))
MAX_ADS_PER_DAY = 20
MAX_REQUESTS_PER_HOUR = 30
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def territory(request: Request[Any, Any, Any]) -> int:
    """The request's territory id (0: an install without territories, nothing to keep apart)."""
    return request_territory(request).id


def searched(db: Session, request: Request[Any, Any, Any]) -> tuple[int, ...] | None:
    """The territories whose ads the request's host finds: its own, then those sharing with it
    both ways (app.carpool.shares); None on an install without territories."""
    here = territory(request)
    return shares.searched_territories(db, here) if here else None


def me(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the route's access rule requires a signed-in person
    return user


def place_choices(db: Session) -> list[carpool_trips.Place]:
    return carpool_trips.list_places(db)


def _local_dt(db: Session, day: str | None, at: str | None) -> datetime:
    """A date and time typed in a form: on the wall clock of the request's territory."""
    try:
        d = date.fromisoformat(day or "")
        t = time.fromisoformat(at or "")
    except ValueError:
        raise carpool_trips.CarpoolError(_("Date ou heure invalide.")) from None
    return datetime.combine(
        d, t.replace(second=0, microsecond=0), tzinfo=territory_zone(db)
    ).astimezone(UTC)


def _minute(at: str | None, message: str) -> int:
    try:
        return carpool_trips.minute_of(time.fromisoformat(at or ""))
    except ValueError:
        raise carpool_trips.CarpoolError(message) from None


def _int_choice(value: str | None, choices: tuple[int, ...], default: int) -> int:
    try:
        n = int(value) if value not in (None, "") else default
    except ValueError:
        raise carpool_trips.CarpoolError(_("Valeur invalide.")) from None
    if n not in choices:
        raise carpool_trips.CarpoolError(_("Valeur invalide."))
    return n


def _points(db: Session, data: dict[str, Any], errors: dict[str, str]) -> tuple[Any, Any]:
    """Departure and arrival from the form (a listed place or a point from the map)."""
    out: list[tuple[str, float, float] | None] = []
    for end in ("from", "to"):
        try:
            out.append(
                carpool_trips.resolve_point(
                    db,
                    data.get(f"{end}_place"),
                    data.get(f"{end}_lat"),
                    data.get(f"{end}_lon"),
                    data.get(f"{end}_label"),
                )
            )
        except carpool_trips.CarpoolError as exc:
            errors[end] = str(exc)
            out.append(None)
    if out[0] and out[1] and geo.distance_m(out[0][1], out[0][2], out[1][1], out[1][2]) < 800:
        errors["to"] = _("Le départ et l'arrivée sont trop proches.")
    return out[0], out[1]


# --- search -----------------------------------------------------------------------------


def parse_query(
    db: Session,
    data: dict[str, Any],
    viewer: CurrentUser | None,
    territories: tuple[int, ...] | None = None,
) -> tuple[matching.Query | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start, end = _points(db, data, errors)
    role = data.get("role") or "driver"
    frequency = data.get("frequency") or "punctual"
    if role not in ("driver", "passenger"):
        errors["role"] = _("Choix invalide.")
    if frequency not in ("punctual", "regular"):
        errors["frequency"] = _("Choix invalide.")
    when = None
    days_mask = 0
    minute = 450
    try:
        margin = _int_choice(data.get("margin"), MARGINS + (90, 120), 30)
        radius = _int_choice(data.get("radius"), RADII, carpool_trips.DEFAULT_RADIUS_M)
    except carpool_trips.CarpoolError as exc:
        errors["margin"] = str(exc)
        margin, radius = 30, carpool_trips.DEFAULT_RADIUS_M
    try:
        if frequency == "regular":
            days_mask = carpool_trips.mask_of(d for d in range(7) if data.get(f"d{d}"))
            if not days_mask:
                errors["days"] = _("Choisissez au moins un jour.")
            minute = _minute(data.get("time"), _("Heure invalide."))
        else:
            when = _local_dt(db, data.get("date"), data.get("time"))
            if when < utcnow() - timedelta(hours=1):
                errors["date"] = _("Cette date est passée.")
    except carpool_trips.CarpoolError as exc:
        errors["date"] = str(exc)
    if errors or start is None or end is None:
        return None, errors
    q = matching.Query(
        start[1],
        start[2],
        end[1],
        end[2],
        role=role,
        frequency=frequency,
        when=when,
        days_mask=days_mask,
        minute=minute,
        margin_min=margin,
        from_radius_m=radius,
        to_radius_m=radius,
        viewer_id=viewer.id if viewer else None,
        exclude_users=matching.blocked_with(db, viewer.id) if viewer else frozenset(),
        territories=territories,
    )
    return q, {}


def default_search(db: Session, viewer: CurrentUser | None) -> dict[str, Any]:
    tomorrow = (carpool_trips.local(utcnow(), territory_zone(db)) + timedelta(days=1)).date()
    form: dict[str, Any] = {
        "role": "driver",
        "frequency": "punctual",
        "date": tomorrow.isoformat(),
        "time": "07:30",
        "margin": "30",
        "radius": str(carpool_trips.DEFAULT_RADIUS_M),
        "to_place": "kirchberg",
    }
    for d in range(5):
        form[f"d{d}"] = "1"
    if viewer is not None:
        insee = db.scalars(select(col(User.commune_insee)).where(col(User.id) == viewer.id)).first()
        if insee:
            form["from_place"] = f"commune-{insee}"
    return form


# --- ads --------------------------------------------------------------------------------


def parse_ad(db: Session, data: dict[str, Any]) -> tuple[cp.AdInput | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start, end = _points(db, data, errors)
    role = data.get("role", "")
    frequency = data.get("frequency", "")
    if role not in ("driver", "passenger"):
        errors["role"] = _("Indiquez si vous conduisez ou cherchez une place.")
    if frequency not in ("punctual", "regular"):
        errors["frequency"] = _("Indiquez si le trajet est ponctuel ou régulier.")
    try:
        seats = int(data.get("seats") or 0)
        if not 1 <= seats <= carpool_trips.MAX_SEATS:
            raise ValueError
    except ValueError:
        errors["seats"] = _("Entre 1 et %(n)s places.") % {"n": carpool_trips.MAX_SEATS}
        seats = 1
    try:
        price = _int_choice(data.get("price"), PRICES, carpool_trips.DEFAULT_PRICE_PER_KM_CENTS)
    except carpool_trips.CarpoolError:
        errors["price"] = _("La participation est plafonnée à 0,10 € par km et par passager.")
        price = 0
    try:
        margin = _int_choice(data.get("margin"), MARGINS, 15)
    except carpool_trips.CarpoolError:
        errors["margin"] = _("Choix invalide.")
        margin = 15
    comment = (data.get("comment") or "").strip()
    if len(comment) > 500:
        errors["comment"] = _("500 caractères au plus.")
    departure = return_at = None
    outward: dict[int, tuple[int, int]] = {}
    returns: dict[int, tuple[int, int]] = {}
    valid_until = None
    if frequency == "punctual":
        try:
            departure = _local_dt(db, data.get("date"), data.get("time"))
            if departure <= utcnow():
                errors["date"] = _("La date de départ doit être dans le futur.")
        except carpool_trips.CarpoolError as exc:
            errors["date"] = str(exc)
        if data.get("return_time"):
            try:
                return_at = _local_dt(
                    db, data.get("return_date") or data.get("date"), data.get("return_time")
                )
                if departure and return_at <= departure:
                    errors["return"] = _("Le retour doit partir après l'aller.")
            except carpool_trips.CarpoolError as exc:
                errors["return"] = str(exc)
    elif frequency == "regular":
        try:
            outward, returns = regular_days(data, margin)
        except carpool_trips.CarpoolError as exc:
            errors["days"] = str(exc)
        if not outward and "days" not in errors:
            errors["days"] = _("Choisissez au moins un jour.")
        if data.get("valid_until"):
            try:
                valid_until = date.fromisoformat(data["valid_until"])
                if valid_until < carpool_trips.local(utcnow(), territory_zone(db)).date():
                    errors["valid_until"] = _("Cette date est passée.")
            except ValueError:
                errors["valid_until"] = _("Date invalide.")
    if errors or start is None or end is None:
        return None, errors
    return cp.AdInput(
        role=role,
        frequency=frequency,
        from_label=start[0],
        from_lat=start[1],
        from_lon=start[2],
        to_label=end[0],
        to_lat=end[1],
        to_lon=end[2],
        seats=seats,
        price_per_km_cents=price,
        departure_at=departure,
        return_at=return_at,
        margin_min=margin,
        outward=outward,
        returns=returns,
        valid_until=valid_until,
        comment=comment,
    ), {}


def ad_form_defaults(db: Session, viewer: CurrentUser) -> dict[str, Any]:
    tomorrow = (carpool_trips.local(utcnow(), territory_zone(db)) + timedelta(days=1)).date()
    form: dict[str, Any] = {
        "role": "driver",
        "frequency": "regular",
        "seats": "3",
        "margin": "15",
        "price": str(carpool_trips.DEFAULT_PRICE_PER_KM_CENTS),
        "date": tomorrow.isoformat(),
        "time": "07:30",
        "to_place": "kirchberg",
    }
    # Monday's times only: the other days ticked take them (app/carpool/week.py).
    form.update(out0="07:30", ret0="17:30", d0="1", d1="1", d2="1", d3="1", d4="1")
    insee = db.scalars(select(col(User.commune_insee)).where(col(User.id) == viewer.id)).first()
    if insee:
        form["from_place"] = f"commune-{insee}"
    return form
