"""Local shops: opening hours (holidays, past midnight), pick-up slots, orders and stock.

Opening hours are kept as weekly intervals in Europe/Paris wall-clock time;
an interval whose closing time is not after its opening time runs past
midnight into the next day. A day's hours are, in order of precedence: the
shop's exception for that date (closed, or other hours), nothing on a public
holiday when the shop closes on holidays, else the weekly hours.

Public holidays come from the ``holidays`` package, with the two extra days
of Alsace-Moselle (Good Friday, 26 December) for communes of Moselle,
Bas-Rhin and Haut-Rhin.

Stock never goes below zero: an order takes stock with a conditional
``UPDATE ... SET stock = stock - n WHERE stock >= n`` inside the order's
write transaction, and an order with one line short is refused whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import delete, select, update
from sqlmodel import Session

from app.db import utcnow
from app.i18n import gettext as _
from app.models.shops import (
    OrderLine,
    Product,
    Shop,
    ShopHours,
    ShopHoursException,
    ShopOrder,
    ShopPhoto,
)
from app.notify import notify

PARIS = ZoneInfo("Europe/Paris")
PREPARATION = timedelta(hours=2)  # an order is ready two hours after it is placed, at the earliest
SLOT = timedelta(minutes=30)
SLOT_DAYS = 7
MAX_QUANTITY = 99

CATEGORIES: dict[str, str] = {
    "bakery": "Boulangerie, pâtisserie",
    "butcher": "Boucherie, charcuterie",
    "grocery": "Épicerie, primeur",
    "florist": "Fleuriste",
    "bike": "Vélos, réparation",
    "books": "Librairie, presse",
    "clothes": "Vêtements, chaussures",
    "health": "Santé, beauté",
    "home": "Maison, bricolage",
    "other": "Autre commerce",
}
WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
SCHEMA_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RESERVED_SLUGS = frozenset({"manage", "orders", "photos", "new"})

# Which state an order may move to, and who moves it.
MERCHANT_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": (("placed",), "accepted"),
    "ready": (("placed", "accepted"), "ready"),
    "collected": (("ready",), "collected"),
    "refuse": (("placed", "accepted"), "refused"),
}
ORDER_LABELS = {
    "placed": "Reçue",
    "accepted": "Acceptée",
    "ready": "Prête",
    "collected": "Retirée",
    "cancelled": "Annulée",
    "refused": "Refusée",
}


class OrderError(ValueError):
    """An order that cannot be placed or moved; the message is French, for the person."""


# --- public holidays ---------------------------------------------------------------------


def in_alsace_moselle(commune_insee: str) -> bool:
    """Moselle (57), Bas-Rhin (67) and Haut-Rhin (68) keep two more public holidays."""
    return commune_insee[:2] in ("57", "67", "68")


@lru_cache(maxsize=64)
def public_holidays(year: int, alsace_moselle: bool = False) -> dict[date, str]:
    """The public holidays of ``year`` in France, by date, with their French names.

    From the ``holidays`` package; ``alsace_moselle`` adds Good Friday and 26 December
    through its Moselle subdivision (Alsace's has the same two days).
    """
    calendar = holidays.country_holidays(
        "FR", subdiv="57" if alsace_moselle else None, years=year, language="fr"
    )
    return dict(sorted(calendar.items()))


def holiday_name(day: date, commune_insee: str) -> str | None:
    return public_holidays(day.year, in_alsace_moselle(commune_insee)).get(day)


# --- opening hours -----------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A shop's hours, loaded once, answering "open at this instant?" without the database."""

    commune_insee: str
    closed_on_holidays: bool
    weekly: tuple[tuple[int, time, time], ...]
    exceptions: dict[date, tuple[time | None, time | None, str]]

    @classmethod
    def load(cls, session: Session, shop: Shop) -> Schedule:
        weekly = session.scalars(
            select(ShopHours)
            .where(ShopHours.shop_id == shop.id)
            .order_by(ShopHours.weekday, ShopHours.opens)
        ).all()
        exceptions = session.scalars(
            select(ShopHoursException).where(ShopHoursException.shop_id == shop.id)
        ).all()
        return cls(
            commune_insee=shop.commune_insee,
            closed_on_holidays=shop.closed_on_holidays,
            weekly=tuple((h.weekday, h.opens, h.closes) for h in weekly),
            exceptions={e.on_date: (e.opens, e.closes, e.label) for e in exceptions},
        )

    @classmethod
    def load_many(cls, session: Session, shops: Sequence[Shop]) -> dict[int, Schedule]:
        """The schedules of many shops in two queries (lists, home panel)."""
        ids = [s.id for s in shops]
        weekly: dict[int, list[tuple[int, time, time]]] = {i: [] for i in ids}  # type: ignore[misc]
        exceptions: dict[int, dict[date, tuple[time | None, time | None, str]]] = {
            i: {} for i in ids
        }  # type: ignore[misc]
        if ids:
            for h in session.scalars(
                select(ShopHours)
                .where(ShopHours.shop_id.in_(ids))  # type: ignore[attr-defined]
                .order_by(ShopHours.weekday, ShopHours.opens)
            ).all():
                weekly[h.shop_id].append((h.weekday, h.opens, h.closes))
            for e in session.scalars(
                select(ShopHoursException).where(ShopHoursException.shop_id.in_(ids))
            ).all():  # type: ignore[attr-defined]
                exceptions[e.shop_id][e.on_date] = (e.opens, e.closes, e.label)
        return {
            s.id: cls(
                commune_insee=s.commune_insee,
                closed_on_holidays=s.closed_on_holidays,  # type: ignore[misc]
                weekly=tuple(weekly[s.id]),
                exceptions=exceptions[s.id],
            )
            for s in shops
        }  # type: ignore[index]

    def day_times(self, day: date) -> list[tuple[time, time]]:
        """The (opens, closes) pairs that start on ``day`` (wall-clock, Europe/Paris)."""
        if day in self.exceptions:
            opens, closes, _label = self.exceptions[day]
            return [] if opens is None or closes is None else [(opens, closes)]
        if self.closed_on_holidays and holiday_name(day, self.commune_insee):
            return []
        return [(o, c) for wd, o, c in self.weekly if wd == day.weekday()]

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening intervals that start on ``day``, as aware Europe/Paris datetimes."""
        out = []
        for opens, closes in self.day_times(day):
            start = datetime.combine(day, opens, tzinfo=PARIS)
            end_day = day if closes > opens else day + timedelta(days=1)
            end = datetime.combine(end_day, closes, tzinfo=PARIS)
            out.append((start, end))
        return out

    def interval_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The interval ``at`` falls in, or None when closed (an interval may begin the day before)."""
        local = at.astimezone(PARIS)
        for day in (local.date() - timedelta(days=1), local.date()):
            for start, end in self.intervals(day):
                if start <= local < end:
                    return start, end
        return None

    def is_open(self, at: datetime) -> bool:
        return self.interval_at(at) is not None

    def next_opening(self, at: datetime, days: int = 8) -> datetime | None:
        local = at.astimezone(PARIS)
        for offset in range(days):
            for start, _end in self.intervals(local.date() + timedelta(days=offset)):
                if start > local:
                    return start
        return None

    def status(self, at: datetime) -> dict[str, object]:
        """For the page: open now and until when, or closed and when it opens next."""
        current = self.interval_at(at)
        if current:
            until = current[1]
            for _day in range(8):  # back-to-back intervals (e.g. open around the clock) read as one
                following = self.interval_at(until)
                if following is None or following[1] <= until:
                    break
                until = following[1]
            return {"open": True, "until": until, "next": None}
        return {"open": False, "until": None, "next": self.next_opening(at)}


def is_open(session: Session, shop: Shop, at: datetime | None = None) -> bool:
    return Schedule.load(session, shop).is_open(at or utcnow())


def pickup_slots(
    schedule: Schedule, now: datetime, *, days: int = SLOT_DAYS, limit: int = 60
) -> list[datetime]:
    """Pick-up times (every 30 min, inside opening hours, two hours from now at the earliest), in UTC."""
    earliest = now + PREPARATION
    local_day = now.astimezone(PARIS).date()
    slots: list[datetime] = []
    for offset in range(-1, days + 1):
        for start, end in schedule.intervals(local_day + timedelta(days=offset)):
            moment = start
            while moment < end:
                if moment >= earliest:
                    slots.append(moment.astimezone(UTC))
                moment += SLOT
    slots = sorted(set(slots))
    return slots[:limit]


def slot_is_valid(schedule: Schedule, pickup_at: datetime, now: datetime) -> bool:
    if pickup_at < now + PREPARATION or pickup_at > now + timedelta(days=SLOT_DAYS + 1):
        return False
    return schedule.is_open(pickup_at)


# --- schema.org ----------------------------------------------------------------------------


def json_ld(
    shop: Shop,
    schedule: Schedule,
    *,
    base_url: str,
    photo_urls: Sequence[str] = (),
    today: date | None = None,
) -> dict[str, object]:
    """The shop as a schema.org ``LocalBusiness`` with regular and special opening hours."""
    base = base_url.rstrip("/")
    hours = [
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": f"https://schema.org/{SCHEMA_DAYS[wd]}",
            "opens": opens.strftime("%H:%M"),
            "closes": closes.strftime("%H:%M"),
        }
        for wd, opens, closes in schedule.weekly
    ]
    today = today or utcnow().astimezone(PARIS).date()
    horizon = today + timedelta(days=120)
    special: dict[date, tuple[time | None, time | None]] = {}
    if schedule.closed_on_holidays:
        for year in {today.year, horizon.year}:
            for day in public_holidays(year, in_alsace_moselle(schedule.commune_insee)):
                if today <= day <= horizon:
                    special[day] = (None, None)
    for day, (opens, closes, _label) in schedule.exceptions.items():
        if day >= today:
            special[day] = (opens, closes)
    for day, (opens, closes) in sorted(special.items()):
        hours.append(
            {
                "@type": "OpeningHoursSpecification",
                "validFrom": day.isoformat(),
                "validThrough": day.isoformat(),
                # schema.org's way to say "closed that day": opens and closes at 00:00.
                "opens": opens.strftime("%H:%M") if opens else "00:00",
                "closes": closes.strftime("%H:%M") if closes else "00:00",
            }
        )
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "LocalBusiness",
        "@id": f"{base}/shops/{shop.slug}",
        "url": f"{base}/shops/{shop.slug}",
        "name": shop.name,
        "description": shop.description,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": shop.address,
            "addressCountry": "FR",
        },
        "openingHoursSpecification": hours,
    }
    if shop.phone:
        data["telephone"] = shop.phone
    if shop.lat is not None and shop.lon is not None:
        data["geo"] = {"@type": "GeoCoordinates", "latitude": shop.lat, "longitude": shop.lon}
    if photo_urls:
        data["image"] = [f"{base}{u}" for u in photo_urls]
    return data


# --- slugs, prices ---------------------------------------------------------------------------


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    return slug or "commerce"


def unique_slug(session: Session, name: str, shop_id: int | None = None) -> str:
    base = slugify(name)
    if base in RESERVED_SLUGS:
        base = f"{base}-commerce"
    slug, n = base, 1
    while True:
        found = session.scalars(select(Shop.id).where(Shop.slug == slug)).first()
        if found is None or found == shop_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def parse_price(text: str) -> int:
    """Euros as typed by a person ("2,50", "2.5", "3 €") to integer cents."""
    cleaned = text.replace("€", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", cleaned):
        raise ValueError(_("Prix invalide : écrivez par exemple 2,50."))
    euros, _sep, cents = cleaned.partition(".")
    return int(euros) * 100 + int((cents + "00")[:2])


def euros(cents: int) -> str:
    """Cents as French euros: 250 → "2,50 €"."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


# --- orders ---------------------------------------------------------------------------------


def place_order(
    session: Session,
    shop: Shop,
    customer_id: int,
    customer_name: str,
    quantities: dict[int, int],
    pickup_at: datetime,
    note: str = "",
    now: datetime | None = None,
) -> ShopOrder:
    """Place a click & collect order in the caller's write transaction.

    Every line takes its stock with a conditional update; when one line is
    short, :class:`OrderError` is raised and the caller rolls back the whole
    transaction, so no line keeps the stock it took.
    """
    now = now or utcnow()
    wanted = {pid: qty for pid, qty in quantities.items() if qty}
    if not wanted:
        raise OrderError(_("Choisissez au moins un produit."))
    if any(qty < 0 or qty > MAX_QUANTITY for qty in wanted.values()):
        raise OrderError(_("Quantité invalide (entre 1 et 99)."))
    if not shop.click_collect:
        raise OrderError(_("Ce commerce ne prend pas de commandes en ligne."))
    schedule = Schedule.load(session, shop)
    if not slot_is_valid(schedule, pickup_at, now):
        raise OrderError(
            _(
                "Choisissez un créneau de retrait pendant les heures d'ouverture, "
                "deux heures après la commande au plus tôt."
            )
        )
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.id.in_(list(wanted)), Product.shop_id == shop.id)  # type: ignore[union-attr]
        ).all()
    }
    if set(products) != set(wanted) or not all(p.is_active for p in products.values()):
        raise OrderError(_("Un des produits n'est plus proposé. Rechargez la page."))
    order = ShopOrder(
        shop_id=shop.id,
        customer_id=customer_id,
        customer_name=customer_name[:80],  # type: ignore[arg-type]
        pickup_at=pickup_at,
        note=note[:500],
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    total = 0
    for pid in sorted(wanted):
        product, qty = products[pid], wanted[pid]
        kept = product.stock is not None
        if kept:
            taken = session.execute(
                update(Product)
                .where(Product.id == pid, Product.stock.is_not(None), Product.stock >= qty)  # type: ignore[union-attr,operator]
                .values(stock=Product.stock - qty, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise OrderError(
                    _("Plus assez de stock pour « %(name)s ». Réduisez la quantité.")
                    % {"name": product.name}
                )
        session.add(
            OrderLine(
                order_id=order.id,
                product_id=pid,
                name=product.name,  # type: ignore[arg-type]
                unit_price_cents=product.price_cents,
                quantity=qty,
                stock_kept=kept,
            )
        )
        total += product.price_cents * qty
    order.total_cents = total
    notify(
        session,
        [shop.owner_id],
        topic="local_shops",
        title=_("Nouvelle commande n° %(id)s") % {"id": order.id},
        body=_("%(name)s, retrait le %(when)s, %(total)s (paiement au comptoir).")
        % {
            "name": customer_name or _("Un client"),
            "when": _local(pickup_at),
            "total": euros(total),
        },
        url=f"/shops/manage/orders/{order.id}",
        urgency="high",
        dedupe=f"shop-order-placed:{order.id}",
    )
    return order


def _local(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%d/%m %H:%M")


def _restock(session: Session, order: ShopOrder) -> None:
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    for line in lines:
        if line.stock_kept:
            session.execute(
                update(Product)
                .where(Product.id == line.product_id, Product.stock.is_not(None))  # type: ignore[union-attr]
                .values(stock=Product.stock + line.quantity)
                .execution_options(synchronize_session=False)
            )


def _move(
    session: Session, order: ShopOrder, allowed_from: Iterable[str], to: str, now: datetime
) -> None:
    """Conditional state change: a second click (or a race) finds the order moved and fails cleanly."""
    done = session.execute(
        update(ShopOrder)
        .where(ShopOrder.id == order.id, ShopOrder.status.in_(list(allowed_from)))  # type: ignore[attr-defined]
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise OrderError(_("Cette commande a déjà changé d'état. Rechargez la page."))
    session.refresh(order)


def merchant_move(
    session: Session, order: ShopOrder, action: str, now: datetime | None = None
) -> ShopOrder:
    """Accept, mark ready, mark collected or refuse an order (the caller checked ownership)."""
    now = now or utcnow()
    if action not in MERCHANT_MOVES:
        raise OrderError(_("Action inconnue."))
    sources, target = MERCHANT_MOVES[action]
    _move(session, order, sources, target, now)
    shop = session.get(Shop, order.shop_id)
    assert shop is not None
    if target == "ready":
        order.ready_at = now
    if target in ("collected", "refused"):
        order.closed_at = now
    if target == "refused":
        _restock(session, order)
    session.add(order)
    if order.customer_id is not None and target in ("accepted", "ready", "refused"):
        titles = {
            "accepted": _("%(shop)s prépare votre commande"),
            "ready": _("Votre commande chez %(shop)s est prête"),
            "refused": _("%(shop)s ne peut pas honorer votre commande"),
        }
        bodies = {
            "accepted": _("Retrait le %(when)s. Paiement au comptoir."),
            "ready": _("Vous pouvez passer la retirer (%(when)s prévu). Paiement au comptoir."),
            "refused": _("Votre commande n° %(id)s est refusée. Contactez le commerce si besoin."),
        }
        values = {"shop": shop.name, "when": _local(order.pickup_at), "id": order.id}
        notify(
            session,
            [order.customer_id],
            topic="local_shops",
            title=titles[target] % values,
            body=bodies[target] % values,
            url=f"/shops/orders/{order.id}",
            urgency="high" if target == "ready" else "normal",
            dedupe=f"shop-order-{target}:{order.id}",
        )
    return order


def customer_cancel(session: Session, order: ShopOrder, now: datetime | None = None) -> ShopOrder:
    now = now or utcnow()
    _move(session, order, ("placed", "accepted"), "cancelled", now)
    order.closed_at = now
    session.add(order)
    _restock(session, order)
    shop = session.get(Shop, order.shop_id)
    if shop is not None:
        notify(
            session,
            [shop.owner_id],
            topic="local_shops",
            title=_("Commande n° %(id)s annulée") % {"id": order.id},
            body=_("Le client a annulé sa commande ; le stock a été remis."),
            url=f"/shops/manage/orders/{order.id}",
            dedupe=f"shop-order-cancelled:{order.id}",
        )
    return order


def low_stock(session: Session, shop: Shop) -> list[Product]:
    return list(
        session.scalars(
            select(Product)
            .where(
                Product.shop_id == shop.id,
                Product.is_active,
                Product.stock.is_not(None),  # type: ignore[union-attr]
                Product.stock <= shop.low_stock_threshold,
            )  # type: ignore[operator]
            .order_by(Product.stock, Product.name)
        ).all()
    )


def local_today_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Midnight to midnight of today in Europe/Paris, as aware datetimes."""
    day = (now or utcnow()).astimezone(PARIS).date()
    start = datetime.combine(day, time(0), tzinfo=PARIS)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


# --- privacy ----------------------------------------------------------------------------------


def _stored_paths(names: Iterable[str | None], media_dir: Path) -> list[Path]:
    from app import images

    paths = []
    for name in names:
        if not name:
            continue
        try:
            paths.append(images.open_path(name, media_dir))
        except (images.InvalidPhotoName, FileNotFoundError):
            continue
    return paths


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime, time)) else v)
        for k, v in obj.model_dump().items()
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    orders = session.scalars(select(ShopOrder).where(ShopOrder.customer_id == user_id)).all()
    data: dict[str, Any] = {
        "orders": [
            {
                **_row(o),
                "lines": [
                    _row(line)
                    for line in session.scalars(select(OrderLine).where(OrderLine.order_id == o.id))
                ],
            }
            for o in orders
        ]
    }
    files: list[Path] = []
    shop = session.scalars(select(Shop).where(Shop.owner_id == user_id)).first()
    if shop is not None:
        photos = session.scalars(select(ShopPhoto).where(ShopPhoto.shop_id == shop.id)).all()
        products = session.scalars(select(Product).where(Product.shop_id == shop.id)).all()
        data["shop"] = {
            **_row(shop),
            "hours": [
                _row(h)
                for h in session.scalars(select(ShopHours).where(ShopHours.shop_id == shop.id))
            ],
            "exceptions": [
                _row(e)
                for e in session.scalars(
                    select(ShopHoursException).where(ShopHoursException.shop_id == shop.id)
                )
            ],
            "products": [_row(p) for p in products],
            "photos": [_row(p) for p in photos],
        }
        files = _stored_paths(
            [p.display_name for p in photos] + [p.display_name for p in products], media_dir
        )
    return data, files


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Cancel the person's open orders (stock goes back), anonymise the rest; delete their shop."""
    for order in session.scalars(
        select(ShopOrder).where(
            ShopOrder.customer_id == user_id, ShopOrder.status.in_(("placed", "accepted", "ready"))
        )
    ).all():  # type: ignore[attr-defined]
        _move(session, order, ("placed", "accepted", "ready"), "cancelled", utcnow())
        _restock(session, order)
        owner = session.scalar(select(Shop.owner_id).where(Shop.id == order.shop_id))
        if owner is not None and owner != user_id:
            # The shop may be preparing it, or have it ready on the counter: tell it, as for any cancellation.
            notify(
                session,
                [owner],
                topic="local_shops",
                title=_("Commande n° %(id)s annulée") % {"id": order.id},
                body=_(
                    "Le client a supprimé son compte Eclor : sa commande est annulée et le stock a été "
                    "remis."
                ),
                url=f"/shops/manage/orders/{order.id}",
                urgency="high",
                dedupe=f"shop-order-cancelled:{order.id}",
            )
    session.execute(
        update(ShopOrder)
        .where(ShopOrder.customer_id == user_id)
        .values(customer_id=None, customer_name="", note="")
        .execution_options(synchronize_session=False)
    )
    files: list[Path] = []
    shop = session.scalars(select(Shop).where(Shop.owner_id == user_id)).first()
    if shop is not None:
        open_customers = session.scalars(
            select(ShopOrder.customer_id).where(
                ShopOrder.shop_id == shop.id,
                ShopOrder.status.in_(("placed", "accepted", "ready")),  # type: ignore[attr-defined]
                ShopOrder.customer_id.is_not(None),
            )
        ).all()  # type: ignore[union-attr]
        notify(
            session,
            [c for c in open_customers if c is not None],
            topic="local_shops",
            title=_("Commande annulée : %(shop)s") % {"shop": shop.name},
            body=_("Ce commerce a quitté Eclor ; votre commande est annulée."),
            url="/shops/orders",
        )
        photos = session.scalars(select(ShopPhoto).where(ShopPhoto.shop_id == shop.id)).all()
        products = session.scalars(select(Product).where(Product.shop_id == shop.id)).all()
        files = _stored_paths(
            [n for p in photos for n in (p.display_name, p.thumb_name)]
            + [n for p in products for n in (p.display_name, p.thumb_name)],
            media_dir,
        )
        order_ids = select(ShopOrder.id).where(ShopOrder.shop_id == shop.id)
        session.execute(delete(OrderLine).where(OrderLine.order_id.in_(order_ids)))  # type: ignore[attr-defined]
        session.execute(delete(ShopOrder).where(ShopOrder.shop_id == shop.id))
        for table in (Product, ShopPhoto, ShopHours, ShopHoursException):
            session.execute(delete(table).where(table.shop_id == shop.id))  # type: ignore[attr-defined]
        session.execute(delete(Shop).where(Shop.id == shop.id))
    return files


# --- demo -------------------------------------------------------------------------------------


def demo_photo(
    label: str, background: tuple[int, int, int], accent: tuple[int, int, int], motif: str, rng: Any
) -> bytes:
    """A simple drawn picture (PNG bytes) for demo content: a motif on a shaded background, and a label."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    width, height = 800, 600
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # soft vertical gradient
        shade = int(30 * y / height)
        draw.line([(0, y), (width, y)], fill=tuple(max(0, c - shade) for c in background))
    cx, cy = width // 2, height // 2 - 40
    if motif == "bread":
        for i in range(3):
            x0 = 150 + i * 170 + rng.randint(-10, 10)
            draw.ellipse(
                [x0, cy - 60, x0 + 160, cy + 60], fill=accent, outline=(90, 50, 20), width=6
            )
            for k in range(3):
                draw.line(
                    [x0 + 40 + k * 35, cy - 35, x0 + 60 + k * 35, cy + 35],
                    fill=(240, 210, 160),
                    width=6,
                )
    elif motif == "meat":
        draw.ellipse(
            [cx - 220, cy - 120, cx + 220, cy + 120], fill=accent, outline=(120, 20, 30), width=8
        )
        draw.ellipse([cx - 90, cy - 50, cx + 40, cy + 50], fill=(245, 225, 220))
    elif motif == "flower":
        for i in range(5):
            fx, fy = 180 + i * 110, cy + rng.randint(-60, 40)
            draw.line(
                [fx, fy, fx + rng.randint(-20, 20), height - 120], fill=(40, 120, 50), width=8
            )
            for angle in range(6):
                import math

                px = fx + 38 * math.cos(angle * math.pi / 3)
                py = fy + 38 * math.sin(angle * math.pi / 3)
                draw.ellipse([px - 28, py - 28, px + 28, py + 28], fill=accent)
            draw.ellipse([fx - 18, fy - 18, fx + 18, fy + 18], fill=(250, 210, 60))
    elif motif == "bike":
        for wx in (cx - 170, cx + 170):
            draw.ellipse([wx - 110, cy - 30, wx + 110, cy + 190], outline=accent, width=14)
        draw.line([cx - 170, cy + 80, cx, cy + 80, cx + 170, cy + 80], fill=accent, width=12)
        draw.line(
            [cx - 170, cy + 80, cx - 60, cy - 60, cx + 100, cy - 60, cx + 170, cy + 80],
            fill=accent,
            width=12,
        )
        draw.line([cx, cy + 80, cx - 60, cy - 60], fill=accent, width=12)
    elif motif == "veg":
        for i in range(7):
            vx, vy = 120 + i * 95, cy + rng.randint(-50, 50)
            r = rng.randint(40, 60)
            colour = [accent, (230, 120, 30), (200, 40, 40), (90, 160, 60)][i % 4]
            draw.ellipse([vx - r, vy - r, vx + r, vy + r], fill=colour)
    else:  # a box-shaped object
        draw.rounded_rectangle(
            [cx - 200, cy - 120, cx + 200, cy + 140],
            radius=30,
            fill=accent,
            outline=(30, 30, 30),
            width=6,
        )
        draw.rectangle([cx - 60, cy - 160, cx + 60, cy - 120], fill=(60, 60, 60))
    try:  # a system font with accents when there is one; Pillow's own otherwise
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 52)
    except OSError:
        font = ImageFont.load_default(size=52)
    box = draw.textbbox((0, 0), label, font=font)
    tx = (width - (box[2] - box[0])) // 2
    draw.rounded_rectangle(
        [tx - 24, height - 130, tx + box[2] - box[0] + 24, height - 40],
        radius=20,
        fill=(255, 255, 255),
    )
    draw.text((tx, height - 122), label, fill=(30, 30, 30), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def demo_store(data: bytes) -> tuple[str, str, int, int]:
    """Run demo bytes through the photo pipeline and store them like an upload."""
    from app import images
    from app.settings import get_settings

    processed = images.process(data)
    stored = images.save(processed, get_settings().resolved_media_dir)
    return stored.display_name, stored.thumb_name, processed.width, processed.height


# (owner e-mail, display name, shop name, category, commune, address, phone, hours key, motif, colours, products)
DEMO_SHOPS: list[dict[str, Any]] = [
    {
        "owner": "commercant@eclor.test",
        "name": "Boulangerie du Val",
        "category": "bakery",
        "commune": "54580",
        "address": "12 rue Carnot, 54190 Villerupt",
        "phone": "03 82 89 12 34",
        "hours": "bakery",
        "motif": "bread",
        "colours": ((246, 222, 178), (196, 130, 60)),
        "description": "Pain au levain, viennoiseries pur beurre et pâtisseries maison. Fournées à 7 h et 16 h.",
        "products": [
            ("Baguette tradition", 130, "la pièce", 40),
            ("Pain de campagne au levain", 420, "800 g", 12),
            ("Croissant pur beurre", 120, "la pièce", 30),
            ("Tarte aux mirabelles", 1850, "6 parts", 2),
            ("Bretzel", 150, "la pièce", 0),
            ("Kougelhopf", 1200, "sur commande", None),
        ],
    },
    {
        "owner": "fleuriste@eclor.test",
        "name": "Fleurs de Sophie",
        "category": "florist",
        "commune": "57038",
        "address": "3 place du Marché, 57390 Audun-le-Tiche",
        "phone": "03 82 52 40 11",
        "hours": "florist",
        "motif": "flower",
        "colours": ((232, 240, 226), (214, 80, 120)),
        "description": "Bouquets de saison, plantes et compositions pour vos événements. Livraison sur le territoire.",
        "products": [
            ("Bouquet de saison", 2500, "", 8),
            ("Rose rouge", 350, "la tige", 60),
            ("Orchidée blanche", 2900, "en pot", 3),
            ("Composition sur mesure", 4500, "sur commande", None),
        ],
    },
    {
        "owner": "boucherie@eclor.test",
        "owner_name": "Patrick Weber",
        "name": "Boucherie Weber",
        "category": "butcher",
        "commune": "57041",
        "address": "27 rue de Metz, 57710 Aumetz",
        "phone": "03 82 91 20 55",
        "hours": "butcher",
        "motif": "meat",
        "colours": ((242, 230, 226), (180, 40, 50)),
        "description": "Viandes de Lorraine, charcuterie maison, plats traiteur le vendredi.",
        "products": [
            ("Rôti de porc", 1590, "le kg", 6),
            ("Saucisses de Lorraine", 1290, "le kg", 10),
            ("Pâté lorrain", 890, "la part", 4),
            ("Colis barbecue", 3500, "sur commande", None),
        ],
    },
    {
        "owner": "velo@eclor.test",
        "owner_name": "Karim Atelier",
        "name": "Atelier Vélo Alzette",
        "category": "bike",
        "commune": "57529",
        "address": "8 rue de la Gare, 57840 Ottange",
        "phone": "06 12 34 56 78",
        "hours": "bike",
        "motif": "bike",
        "colours": ((220, 233, 245), (30, 90, 160)),
        "description": "Réparation et entretien de vélos, vélos électriques compris. Révision en 48 h.",
        "products": [
            ("Chambre à air 700×28", 790, "", 15),
            ("Révision complète", 4900, "sur rendez-vous", None),
            ("Éclairage LED avant/arrière", 2490, "le kit", 5),
            ("Antivol en U", 3290, "", 2),
        ],
    },
    {
        "owner": "epicerie@eclor.test",
        "owner_name": "Lucie Marchal",
        "name": "L'Épicerie de Thil",
        "category": "grocery",
        "commune": "54523",
        "address": "2 Grand'Rue, 54880 Thil",
        "phone": "03 82 26 70 02",
        "hours": "grocery",
        "motif": "veg",
        "colours": ((238, 244, 228), (120, 170, 60)),
        "description": "Fruits et légumes de producteurs locaux, vrac, produits laitiers. Ouvert tard le vendredi.",
        "products": [
            ("Panier de légumes de saison", 1500, "", 10),
            ("Mirabelles de Lorraine", 650, "le kg", 20),
            ("Œufs fermiers", 390, "les 6", 24),
            ("Fromage de Lorraine", 520, "250 g", 0),
        ],
    },
]
# weekday -> intervals, by kind of shop (0 = Monday).
DEMO_HOURS: dict[str, dict[int, list[tuple[str, str]]]] = {
    "bakery": {d: [("06:30", "13:00"), ("15:00", "19:00")] for d in (1, 2, 3, 4, 5)}
    | {6: [("07:00", "12:30")]},
    "florist": {d: [("09:00", "12:00"), ("14:00", "19:00")] for d in (1, 2, 3, 4, 5)}
    | {6: [("09:00", "12:30")]},
    "butcher": {d: [("08:00", "12:30"), ("15:00", "18:30")] for d in (1, 2, 3, 4)}
    | {5: [("07:30", "17:00")]},
    "bike": {d: [("10:00", "12:00"), ("14:00", "18:30")] for d in (1, 2, 3, 4, 5)},
    "grocery": {d: [("08:30", "19:30")] for d in (0, 1, 2, 3, 5)}
    | {4: [("08:30", "12:00"), ("15:00", "01:00")]},
}


def load_demo(session: Session, rng: Any) -> str | None:
    from app import auth
    from app.demo import DEMO_PASSWORD, demo_user
    from app.models.accounts import User
    from app.models.territory import Commune

    created = 0
    for spec in DEMO_SHOPS:
        owner = session.scalars(select(User).where(User.email == spec["owner"])).first()
        if owner is None:
            if "owner_name" not in spec:
                owner = demo_user(session, spec["owner"])
            else:
                owner = auth.create_user(
                    session,
                    spec["owner"],
                    role="merchant",
                    password=DEMO_PASSWORD,
                    display_name=spec["owner_name"],
                )
                owner.commune_insee = spec["commune"]
        if session.scalars(select(Shop.id).where(Shop.owner_id == owner.id)).first():
            continue
        commune = session.get(Commune, spec["commune"])
        lat = (commune.lat if commune else 49.46) + rng.uniform(-0.002, 0.002)
        lon = (commune.lon if commune else 5.95) + rng.uniform(-0.002, 0.002)
        shop = Shop(
            owner_id=owner.id,
            slug=unique_slug(session, spec["name"]),
            name=spec["name"],  # type: ignore[arg-type]
            category=spec["category"],
            description=spec["description"],
            address=spec["address"],
            commune_insee=spec["commune"],
            lat=round(lat, 5),
            lon=round(lon, 5),
            phone=spec["phone"],
        )
        session.add(shop)
        session.flush()
        background, accent = spec["colours"]
        display, thumb, w, h = demo_store(
            demo_photo(spec["name"], background, accent, spec["motif"], rng)
        )
        session.add(
            ShopPhoto(shop_id=shop.id, display_name=display, thumb_name=thumb, width=w, height=h)
        )  # type: ignore[arg-type]
        for weekday, intervals in DEMO_HOURS[spec["hours"]].items():
            for opens, closes in intervals:
                session.add(
                    ShopHours(
                        shop_id=shop.id,
                        weekday=weekday,
                        opens=time.fromisoformat(opens),  # type: ignore[arg-type]
                        closes=time.fromisoformat(closes),
                    )
                )
        for name, price, unit, stock in spec["products"]:
            display, thumb, _w, _h = demo_store(
                demo_photo(name[:22], background, accent, spec["motif"], rng)
            )
            session.add(
                Product(
                    shop_id=shop.id,
                    name=name,
                    price_cents=price,
                    unit=unit,
                    stock=stock,  # type: ignore[arg-type]
                    display_name=display,
                    thumb_name=thumb,
                )
            )
        created += 1
    today = utcnow().astimezone(PARIS).date()
    bakery = session.scalars(select(Shop).where(Shop.name == "Boulangerie du Val")).first()
    if bakery is not None and created:
        session.add(
            ShopHoursException(
                shop_id=bakery.id,
                on_date=today + timedelta(days=10),  # type: ignore[arg-type]
                label="Congés",
            )
        )
        customer = session.scalars(select(User).where(User.email == "voisine@eclor.test")).first()
        product = session.scalars(
            select(Product).where(
                Product.shop_id == bakery.id,
                Product.stock.is_not(None),  # type: ignore[union-attr]
                Product.stock > 5,
            )
        ).first()  # type: ignore[operator]
        schedule = Schedule.load(session, bakery)
        slots = pickup_slots(schedule, utcnow())
        if customer is not None and product is not None and slots:
            place_order(
                session,
                bakery,
                customer.id,
                customer.display_name,
                {product.id: 4},
                slots[0],  # type: ignore[arg-type,dict-item]
                "Bien cuites, s'il vous plaît.",
            )
    return f"{created} shops with hours, products and photos" if created else None
