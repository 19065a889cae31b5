"""Carpool pages: the search, saved searches, a resident's own trips and blocked people."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.auth import PUBLIC, SIGNED_IN, current_user
from app.carpool import ads as cp
from app.carpool import bookings as carpool_bookings
from app.carpool import matching
from app.carpool import trips as carpool_trips
from app.db import utcnow
from app.forms import TextForm as Form
from app.i18n import gettext as _
from app.models.carpool import (
    CarpoolAd,
    CarpoolBlock,
    CarpoolBooking,
    CarpoolSearch,
)
from app.routes.carpool_forms import (
    default_search,
    me,
    parse_query,
    place_choices,
    searched,
    territory,
)
from app.templating import page


@get("/carpool", opt=PUBLIC, sync_to_thread=True, name="carpool_index")
def index(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """The search form and the latest offers the host's search finds (its territory's, and those
    of the territories sharing with it both ways)."""
    viewer = current_user(request)
    territories = searched(db, request)
    here = (col(CarpoolAd.territory_id).in_(territories),) if territories else ()
    latest = db.scalars(
        select(CarpoolAd)
        .where(
            *here,
            col(CarpoolAd.status) == "active",
            col(CarpoolAd.role) == "driver",
            or_(col(CarpoolAd.frequency) == "regular", col(CarpoolAd.departure_at) > utcnow()),
        )
        .order_by(col(CarpoolAd.created_at).desc())
        .limit(8)
    ).all()
    blocked = matching.blocked_with(db, viewer.id) if viewer else frozenset()
    latest = [a for a in latest if a.user_id not in blocked]
    return page(
        request,
        "carpool/index.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        form=default_search(db, viewer),
        errors={},
        places=place_choices(db),
        latest=latest,
        names=matching.display_names(db, [a.user_id for a in latest]),
        cp=carpool_trips,
        results=None,
    )


@get("/carpool/search", opt=PUBLIC, sync_to_thread=True, name="carpool_search")
def search_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """The ads of the host's territory and of those sharing their offers with it both ways."""
    viewer = current_user(request)
    data = dict(request.query_params)
    q, errors = parse_query(db, data, viewer, searched(db, request))
    results = matching.attach_ads(db, matching.search(db, q)) if q else []
    return page(
        request,
        "carpool/index.html",
        tile_url=request.app.state.settings.tile_url,
        section="carpool",
        status_code=400 if errors else 200,
        form=data,
        errors=errors,
        places=place_choices(db),
        latest=[],
        names={},
        cp=carpool_trips,
        results=results if q else None,
        query=q,
    )


@post("/carpool/searches", opt=SIGNED_IN, sync_to_thread=True, name="carpool_save_search")
def save_search(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    viewer = me(request)
    q, errors = parse_query(db, data, viewer)
    if q is None:
        return page(
            request,
            "carpool/index.html",
            tile_url=request.app.state.settings.tile_url,
            section="carpool",
            status_code=400,
            form=data,
            errors=errors,
            places=place_choices(db),
            latest=[],
            names={},
            cp=carpool_trips,
            results=None,
        )
    searches = db.scalar(
        select(func.count())
        .select_from(CarpoolSearch)
        .where(col(CarpoolSearch.user_id) == viewer.id)
    )
    if (searches or 0) >= 20:
        errors["__all__"] = _("Vous avez déjà 20 alertes : supprimez-en une d'abord.")
        return page(
            request,
            "carpool/index.html",
            tile_url=request.app.state.settings.tile_url,
            section="carpool",
            status_code=400,
            form=data,
            errors=errors,
            places=place_choices(db),
            latest=[],
            names={},
            cp=carpool_trips,
            results=None,
        )
    start = carpool_trips.resolve_point(
        db, data.get("from_place"), data.get("from_lat"), data.get("from_lon")
    )
    end = carpool_trips.resolve_point(
        db, data.get("to_place"), data.get("to_lat"), data.get("to_lon")
    )
    local_when = q.local_when
    saved = CarpoolSearch(
        user_id=viewer.id,
        role=q.role,
        frequency=q.frequency,
        from_label=start[0],
        from_lat=q.from_lat,
        from_lon=q.from_lon,
        to_label=end[0],
        to_lat=q.to_lat,
        to_lon=q.to_lon,
        on_date=local_when.date() if local_when else None,
        days_mask=q.days_mask,
        minute=q.searched_minute(),
        margin_min=q.margin_min,
        radius_m=q.from_radius_m,
    )
    if territory(request):  # saved on this host: told of the ads its search finds
        saved.territory_id = territory(request)
    db.add(saved)
    db.commit()
    return Redirect("/carpool/mine#alerts", status_code=303)


@post(
    "/carpool/searches/{search_id:int}/delete",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_delete_search",
)
def delete_search(
    request: Request[Any, Any, Any], db: NamedDependency[Session], search_id: FromPath[int]
) -> Redirect:
    s = db.get(CarpoolSearch, search_id)
    if s is None or s.user_id != me(request).id:
        raise NotFoundException()
    db.delete(s)
    db.commit()
    return Redirect("/carpool/mine#alerts", status_code=303)


# --- trust: blocks, profile, photos -----------------------------------------------------


@post(
    "/carpool/users/{user_id:int}/block", opt=SIGNED_IN, sync_to_thread=True, name="carpool_block"
)
def block_user(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    user_id: FromPath[int],
    data: Form,
) -> Redirect:
    viewer = me(request)
    try:
        cp.block(db, viewer.id, user_id)
    except carpool_trips.CarpoolError as exc:
        raise NotFoundException(str(exc)) from None
    db.commit()
    return Redirect("/carpool/mine#blocked", status_code=303)


@post(
    "/carpool/users/{user_id:int}/unblock",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="carpool_unblock",
)
def unblock_user(
    request: Request[Any, Any, Any], db: NamedDependency[Session], user_id: FromPath[int]
) -> Redirect:
    cp.unblock(db, me(request).id, user_id)
    db.commit()
    return Redirect("/carpool/mine#blocked", status_code=303)


@get("/carpool/mine", opt=SIGNED_IN, sync_to_thread=True, name="carpool_mine")
def mine(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """The resident's own ads, bookings, alerts and blocks, on every host and of every territory:
    one account carpools across several territories (an ad published in one, a seat booked in a
    neighbouring one), and this page is where they find all of it."""
    viewer = me(request)
    ads = db.scalars(
        select(CarpoolAd)
        .where(col(CarpoolAd.user_id) == viewer.id)
        .order_by(col(CarpoolAd.status), col(CarpoolAd.created_at).desc())
    ).all()
    rows = db.execute(
        select(CarpoolBooking, CarpoolAd)
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(
            or_(
                col(CarpoolBooking.requester_id) == viewer.id,
                col(CarpoolBooking.owner_id) == viewer.id,
            )
        )
        .order_by(col(CarpoolBooking.updated_at).desc())
        .limit(50)
    ).all()
    pending = {}
    for ad_id, n in db.execute(
        select(col(CarpoolBooking.ad_id), func.count())
        .where(col(CarpoolBooking.owner_id) == viewer.id, col(CarpoolBooking.status) == "pending")
        .group_by(col(CarpoolBooking.ad_id))
    ):
        pending[ad_id] = n
    searches = db.scalars(
        select(CarpoolSearch)
        .where(col(CarpoolSearch.user_id) == viewer.id)
        .order_by(col(CarpoolSearch.created_at).desc())
    ).all()
    blocks = db.scalars(select(CarpoolBlock).where(col(CarpoolBlock.blocker_id) == viewer.id)).all()
    names = matching.display_names(
        db,
        [b.owner_id for b, _a in rows]
        + [b.requester_id for b, _a in rows]
        + [b.blocked_id for b in blocks],
    )
    return page(
        request,
        "carpool/mine.html",
        section="carpool",
        ads=ads,
        bookings=rows,
        pending=pending,
        searches=searches,
        blocks=blocks,
        names=names,
        cp=carpool_trips,
        upcoming=carpool_bookings.upcoming_trips(db, viewer.id),
    )
