"""Sharing pages for loans and gifts under way: a loan's page and its steps, one's own items and loans, category watches."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app.auth import SIGNED_IN, CurrentUser
from app.db import utcnow
from app.forms import Form
from app.i18n import gettext as _
from app.models.sharing import (
    Loan,
    LoanMessage,
    SharedItem,
    SharedPhoto,
    WantedRequest,
)
from app.routes.sharing_context import photo_url_of, signed_in, territory
from app.sharing import loans as logic
from app.templating import page
from app.territories import request_territory

# --- loans -------------------------------------------------------------------------------------


def _loan_for(db: Session, loan_id: int, user: CurrentUser) -> tuple[Loan, SharedItem]:
    loan = db.get(Loan, loan_id)
    item = db.get(SharedItem, loan.item_id) if loan else None
    if loan is None or item is None or user.id not in (loan.borrower_id, item.owner_id):
        raise NotFoundException()
    return loan, item


def _loan_page(
    request: Request[Any, Any, Any],
    db: Session,
    loan: Loan,
    item: SharedItem,
    *,
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    user = signed_in(request)
    messages = db.scalars(
        select(LoanMessage)
        .where(col(LoanMessage.loan_id) == loan.id)
        .order_by(col(LoanMessage.created_at))
    ).all()
    names = logic.user_names(db, [loan.borrower_id, item.owner_id])
    photo_row = db.scalars(
        select(SharedPhoto)
        .where(col(SharedPhoto.item_id) == item.id)
        .order_by(col(SharedPhoto.position))
    ).first()
    can_extend = loan.kind == "loan" and loan.status in ("accepted", "picked_up")
    return page(
        request,
        "sharing/loan.html",
        section="sharing",
        status_code=status_code,
        loan=loan,
        item=item,
        messages=messages,
        names=names,
        is_owner=user.id == item.owner_id,
        errors=errors,
        labels=logic.LOAN_LABELS,
        thumb=photo_url_of(photo_row.thumb_name) if photo_row else None,
        can_extend=can_extend,
        today=logic.local_today(request_territory(request).zone),
    )


@get("/sharing/loans/{loan_id:int}", opt=SIGNED_IN, sync_to_thread=True, name="sharing_loan")
def loan_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], loan_id: FromPath[int]
) -> Template:
    loan, item = _loan_for(db, loan_id, signed_in(request))
    return _loan_page(request, db, loan, item, errors={})


@post(
    "/sharing/loans/{loan_id:int}/{action:str}",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="sharing_loan_action",
)
def loan_action(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    loan_id: FromPath[int],
    action: FromPath[str],
    data: Form,
) -> Template | Redirect:
    user = signed_in(request)
    loan, item = _loan_for(db, loan_id, user)
    try:
        if action == "messages":
            logic.post_message(db, loan_id, user.id, str(data.get("body", "")))
        elif action == "extend":
            try:
                new_end = date.fromisoformat(str(data.get("end_on", "")))
            except ValueError:
                raise logic.SharingError(_("Indiquez la nouvelle date de retour.")) from None
            logic.extend_loan(db, loan_id, user.id, new_end)
        elif action in logic.TRANSITIONS:
            logic.move_loan(db, loan_id, user.id, action)
        else:
            raise NotFoundException()
    except logic.SharingError as exc:
        db.rollback()
        loan, item = _loan_for(db, loan_id, user)
        return _loan_page(request, db, loan, item, errors={"__all__": str(exc)}, status_code=409)
    db.commit()
    return Redirect(
        f"/sharing/loans/{loan_id}#{'messages' if action == 'messages' else 'state'}",
        status_code=303,
    )


# --- mine, watches, wanted -----------------------------------------------------------------------


@get("/sharing/mine", opt=SIGNED_IN, sync_to_thread=True, name="sharing_mine")
def mine(
    request: Request[Any, Any, Any], db: NamedDependency[Session], saved: FromQuery[str] = ""
) -> Template:
    """The resident's own ads, requests and loans, in every territory: one account shares on
    several territories' sites, and this page (like the loan pages, for their two parties) is
    theirs on every host."""
    user = signed_in(request)
    now = utcnow()
    items = db.scalars(
        select(SharedItem)
        .where(col(SharedItem.owner_id) == user.id, col(SharedItem.status) != "removed")
        .order_by(col(SharedItem.created_at).desc())
    ).all()
    lent = db.execute(
        select(Loan, SharedItem)
        .join(SharedItem, col(SharedItem.id) == col(Loan.item_id))
        .where(col(SharedItem.owner_id) == user.id)
        .order_by(col(Loan.updated_at).desc())
        .limit(50)
    ).all()
    borrowed = db.execute(
        select(Loan, SharedItem)
        .join(SharedItem, col(SharedItem.id) == col(Loan.item_id))
        .where(col(Loan.borrower_id) == user.id)
        .order_by(col(Loan.updated_at).desc())
        .limit(50)
    ).all()
    watches = logic.watches(db, user.id, territory(request))  # the host's territory's
    wanted = db.scalars(
        select(WantedRequest)
        .where(col(WantedRequest.user_id) == user.id)
        .order_by(col(WantedRequest.created_at).desc())
    ).all()
    names = logic.user_names(
        db, [ln.borrower_id for ln, _i in lent] + [i.owner_id for _l, i in borrowed]
    )
    return page(
        request,
        "sharing/mine.html",
        section="sharing",
        items=items,
        lent=lent,
        borrowed=borrowed,
        watches=watches,
        wanted=wanted,
        names=names,
        now=now,
        categories=logic.CATEGORIES,
        labels=logic.LOAN_LABELS,
        saved=saved,
    )


@post("/sharing/watches", opt=SIGNED_IN, sync_to_thread=True, name="sharing_watches")
def save_watches(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Redirect:
    chosen = data.get("category", [])
    chosen = chosen if isinstance(chosen, list) else [chosen]
    logic.set_watches(db, signed_in(request).id, [str(c) for c in chosen], territory(request))
    db.commit()
    return Redirect("/sharing/mine?saved=watches#watches", status_code=303)
