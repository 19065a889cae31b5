"""Participation, proposals: residents propose an idea for their commune, others support and
comment (comments reportable, moderated by staff), staff answer with a status; the JSON API
shows what the pages show (hidden comments in neither)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session, col

from app import images, moderation
from app import photo_store
from app.auth import PUBLIC, SIGNED_IN, STAFF, CurrentUser, current_user, signed_in_user
from app.db import saved_id
from app.deps import late_write, start_writing
from app.forms import Form, Multipart, parse_form
from app.i18n import gettext as _
from app.models.participation import CommentReport, Proposal, ProposalComment, ProposalPhoto
from app.photo_store import PendingPhotos
from app.participation import proposals as logic
from app.participation import scope
from app.routes.participation_context import (
    get_or_none,
    PHOTO_CACHE,
    communes,
    photo_url,
    text,
    uploaded_files,
)
from app.templating import page


class ProposalForm(BaseModel):
    title: str = Field(min_length=5, max_length=160)
    body: str = Field(min_length=10, max_length=4000)
    commune_insee: str = Field(min_length=5, max_length=5)
    place: str = Field(default="", max_length=200)
    lat: float | None = Field(default=None, ge=49.0, le=50.0)
    lon: float | None = Field(default=None, ge=5.5, le=6.5)


def _visible_or_404(proposal: Proposal | None, user: CurrentUser | None) -> Proposal:
    """The proposal to whoever may see it (a hidden one: staff only), else 404."""
    if proposal is None or (proposal.hidden and not (user and user.is_staff)):
        raise NotFoundException()
    return proposal


def _proposal_or_404(db: Session, proposal_id: int, user: CurrentUser | None) -> Proposal:
    """A proposal of the request's territory (another territory's is not found)."""
    proposal = get_or_none(db, Proposal, proposal_id)
    if proposal is not None and not scope.is_here(db, proposal):
        proposal = None
    if proposal is not None and not scope.is_here(db, proposal):
        proposal = None
    return _visible_or_404(proposal, user)


@get("/participation/proposals", opt=PUBLIC, sync_to_thread=True, name="pp_list")
def proposals(
    request: Request[Any, Any, Any], db: NamedDependency[Session], commune: FromQuery[str] = ""
) -> Template:
    rows = logic.listed(db, commune)
    return page(
        request,
        "participation/proposals.html",
        section="participation",
        proposals=rows,
        supports=logic.supports(db, [saved_id(p) for p in rows]),
        communes=communes(db),
        commune=commune,
        labels=logic.STATUS_LABELS,
    )


def _form_page(
    request: Request[Any, Any, Any],
    db: Session,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "participation/proposal_form.html",
        section="participation",
        form=form,
        errors=errors,
        communes=communes(db),
        status_code=status_code,
    )


@get("/participation/proposals/new", opt=SIGNED_IN, sync_to_thread=True, name="pp_new")
def new_proposal(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _form_page(request, db, {}, {})


@post("/participation/proposals", opt=late_write(SIGNED_IN), sync_to_thread=True, name="pp_create")
def create_proposal(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Multipart
) -> Template | Redirect:
    """A proposal, with a photo if the resident adds one (checked and re-encoded before the write
    transaction opens)."""
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    form, errors = parse_form(ProposalForm, fields)
    uploads = uploaded_files(data.get("photo"))
    processed: list[images.ProcessedPhoto] = []
    if len(uploads) > 1:
        errors["photo"] = _("Une seule photo.")
    elif uploads:
        try:
            processed.append(
                images.process(uploads[0], max_bytes=request.app.state.settings.max_upload_bytes)
            )
        except images.ImageRejected as exc:
            errors["photo"] = exc.message
    media = request.app.state.settings.resolved_media_dir
    with PendingPhotos(processed if form is not None and not errors else [], media) as pending:
        start_writing(db)
        if form is not None and form.commune_insee not in communes(db):
            errors["commune_insee"] = _("Choisissez une commune du territoire.")
        if form is None or errors:
            db.rollback()
            return _form_page(request, db, fields, errors, 400)
        proposal = Proposal(author_id=signed_in_user(request).id, **form.model_dump())
        db.add(proposal)
        db.flush()
        for ph, stored in zip(processed, pending.stored, strict=True):
            db.add(
                ProposalPhoto(
                    proposal_id=saved_id(proposal),
                    display_name=stored.display_name,
                    thumb_name=stored.thumb_name,
                    width=ph.width,
                    height=ph.height,
                )
            )
        db.commit()
        pending.keep()
    return Redirect(f"/participation/proposals/{proposal.id}", status_code=303)


@get(
    "/participation/photos/{name:str}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pp_photo",
    include_in_schema=False,
)
def photo(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    """A proposal's photo, to whoever may see the proposal (a hidden one: staff only)."""
    proposal = logic.proposal_of_photo(db, name)
    if proposal is not None and not scope.is_here(db, proposal):
        proposal = None
    proposal = _visible_or_404(proposal, current_user(request))
    return photo_store.served(
        name,
        request.app.state.settings.resolved_media_dir,
        cache_control="private, no-store" if proposal.hidden else PHOTO_CACHE,
    )


def _proposal_page(
    request: Request[Any, Any, Any],
    db: Session,
    proposal: Proposal,
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Template:
    pid = saved_id(proposal)
    return page(
        request,
        "participation/proposal.html",
        section="participation",
        status_code=status_code,
        proposal=proposal,
        comments=logic.visible_comments(db, pid),
        supports=logic.supports(db, [pid]).get(pid, 0),
        photo=db.get(ProposalPhoto, pid),
        photo_url=photo_url,
        communes=communes(db),
        labels=logic.STATUS_LABELS,
        errors=errors or {},
        notice=notice,
    )


@get("/participation/proposals/{proposal_id:int}", opt=PUBLIC, sync_to_thread=True, name="pp_page")
def proposal_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    proposal_id: FromPath[int],
    reported: FromQuery[str] = "",
) -> Template:
    proposal = _proposal_or_404(db, proposal_id, current_user(request))
    notice = _("Merci, l’équipe va examiner ce commentaire.") if reported else ""
    return _proposal_page(request, db, proposal, notice=notice)


@post(
    "/participation/proposals/{proposal_id:int}/support",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pp_support",
)
def support(
    request: Request[Any, Any, Any], db: NamedDependency[Session], proposal_id: FromPath[int]
) -> Template | Redirect:
    proposal = _proposal_or_404(db, proposal_id, current_user(request))
    try:
        logic.support(db, proposal, signed_in_user(request).id)
    except logic.ProposalError as exc:
        db.rollback()
        return _proposal_page(request, db, proposal, errors={"support": str(exc)}, status_code=400)
    db.commit()
    return Redirect(f"/participation/proposals/{proposal_id}", status_code=303)


@post(
    "/participation/proposals/{proposal_id:int}/comments",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pp_comment",
)
def add_comment(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    proposal_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    proposal = _proposal_or_404(db, proposal_id, current_user(request))
    try:
        logic.comment(db, proposal, signed_in_user(request).id, text(data, "body", 4000))
    except logic.ProposalError as exc:
        db.rollback()
        return _proposal_page(request, db, proposal, errors={"body": str(exc)}, status_code=400)
    db.commit()
    return Redirect(f"/participation/proposals/{proposal_id}#comments", status_code=303)


@post(
    "/participation/comments/{comment_id:int}/report",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="pp_report",
)
def report(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    comment_id: FromPath[int],
    data: Form,
) -> Redirect:
    row = _comment_here(db, comment_id)
    if row is None or row.status != "visible":
        raise NotFoundException()
    logic.report_comment(db, comment_id, signed_in_user(request).id, text(data, "reason", 500))
    db.commit()
    return Redirect(f"/participation/proposals/{row.proposal_id}?reported=1", status_code=303)


@get(
    "/api/participation/proposals/{proposal_id:int}",
    opt=PUBLIC,
    sync_to_thread=True,
    name="pp_api",
)
def proposal_api(
    request: Request[Any, Any, Any], db: NamedDependency[Session], proposal_id: FromPath[int]
) -> dict[str, Any]:
    proposal = get_or_none(db, Proposal, proposal_id)
    if proposal is not None and not scope.is_here(db, proposal):
        proposal = None
    if proposal is None or proposal.hidden:
        raise NotFoundException()
    pid = saved_id(proposal)
    return {
        "id": pid,
        "title": proposal.title,
        "body": proposal.body,
        "commune": proposal.commune_insee,
        "place": proposal.place,
        "lat": proposal.lat,
        "lon": proposal.lon,
        "status": proposal.status,
        "status_reason": proposal.status_reason,
        "supports": logic.supports(db, [pid]).get(pid, 0),
        "created_at": proposal.created_at.isoformat(),
        "comments": [
            {"id": c.id, "body": c.body, "created_at": c.created_at.isoformat()}
            for c in logic.visible_comments(db, pid)
        ],
    }


# --- staff -------------------------------------------------------------------------------------


def _comment_here(db: Session, comment_id: int) -> ProposalComment | None:
    """A comment on a proposal of the request's territory."""
    row = get_or_none(db, ProposalComment, comment_id)
    proposal = get_or_none(db, Proposal, row.proposal_id) if row is not None else None
    return row if proposal is not None and scope.is_here(db, proposal) else None


def _on_proposals_here(db: Session) -> tuple[Any, ...]:
    """Comments on the proposals of the request's territory."""
    ids = select(col(Proposal.id)).where(*scope.proposals_here(db))
    return (col(ProposalComment.proposal_id).in_(ids),)


def _moderation_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    rows = db.execute(
        select(CommentReport, ProposalComment)
        .join(ProposalComment, col(ProposalComment.id) == col(CommentReport.comment_id))
        .where(
            *_on_proposals_here(db),
            col(CommentReport.status) == "open",
            col(ProposalComment.status) == "visible",
        )
        .order_by(col(CommentReport.created_at))
    ).all()
    hidden = db.scalars(
        select(ProposalComment)
        .where(*_on_proposals_here(db), col(ProposalComment.status) == "hidden")
        .order_by(col(ProposalComment.moderated_at).desc())
        .limit(100)
    ).all()
    return page(
        request,
        "participation/staff_moderation.html",
        section="staff",
        rows=rows,
        hidden=hidden,
        reasons=moderation.REASONS,
        errors=errors or {},
        status_code=status_code,
    )


@get("/participation/staff/comments", opt=STAFF, sync_to_thread=True, name="pp_moderation")
def moderation_page(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _moderation_page(request, db)


@post(
    "/participation/staff/comments/{comment_id:int}/hide",
    opt=STAFF,
    sync_to_thread=True,
    name="pp_hide",
)
def hide(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    comment_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = _comment_here(db, comment_id)
    if row is None:
        raise NotFoundException()
    try:
        logic.hide_comment(
            db, row, signed_in_user(request).id, text(data, "reason", 20), text(data, "note", 300)
        )
    except moderation.ModerationError as exc:
        db.rollback()
        return _moderation_page(request, db, errors={comment_id: str(exc)}, status_code=400)
    db.commit()
    return Redirect("/participation/staff/comments", status_code=303)


@post(
    "/participation/staff/comments/{comment_id:int}/restore",
    opt=STAFF,
    sync_to_thread=True,
    name="pp_restore",
)
def restore(
    request: Request[Any, Any, Any], db: NamedDependency[Session], comment_id: FromPath[int]
) -> Redirect:
    row = _comment_here(db, comment_id)
    if row is None:
        raise NotFoundException()
    logic.restore_comment(db, row)
    db.commit()
    return Redirect("/participation/staff/comments", status_code=303)


@post(
    "/participation/staff/proposals/{proposal_id:int}/status",
    opt=STAFF,
    sync_to_thread=True,
    name="pp_status",
)
def answer(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    proposal_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    proposal = _proposal_or_404(db, proposal_id, current_user(request))
    try:
        logic.set_status(
            db,
            proposal,
            text(data, "status", 12),
            text(data, "reason", 500),
            staff_id=signed_in_user(request).id,
        )
    except logic.ProposalError as exc:
        db.rollback()
        return _proposal_page(request, db, proposal, errors={"status": str(exc)}, status_code=400)
    db.commit()
    return Redirect(f"/participation/proposals/{proposal_id}", status_code=303)


ROUTES = [
    proposals,
    new_proposal,
    create_proposal,
    photo,
    proposal_page,
    support,
    add_comment,
    report,
    proposal_api,
    moderation_page,
    hide,
    restore,
    answer,
]
