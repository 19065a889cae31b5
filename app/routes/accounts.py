"""Accounts: sign-in (password or OpenID Connect), sign-out, sign-up, password reset,
one's own account page, the export of one's data and the deletion of one's account."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from app import auth, oidc, ratelimit
from app.accounts import lifecycle as accounts
from app.accounts import signup as signing_up
from app.auth import PUBLIC, SIGNED_IN, current_user, signed_in_user
from app.db import begin_write, saved_id, utcnow
from app.deps import start_writing
from app.forms import TextForm as Form
from app.forms import parse_form
from app.i18n import gettext as _
from app.interfaces import Contribution
from app.models.accounts import Identity, User, WebSession
from app.scope import extras as scope_extras
from app.sections import ACCOUNT_LINKS
from app.templating import page
from app.territories import request_territory, site_url

log = logging.getLogger("eclor.accounts")

RECENT_SIGN_IN = timedelta(minutes=15)


class SignupForm(BaseModel):
    """The password is chosen from the e-mailed link (app.accounts.signup), not here."""

    email: str = Field(max_length=254)
    display_name: str = Field(default="", max_length=80)
    consent: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = auth.normalise_email(value)
        local, _sep, domain = value.partition("@")
        if not local or "." not in domain or " " in value:
            raise ValueError("Adresse e-mail invalide.")
        return value


class NewPasswordForm(BaseModel):
    password: str = Field(max_length=256)
    password_again: str = Field(max_length=256)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        problem = auth.validate_password(value)
        if problem:
            raise ValueError(problem)
        return value


def safe_next(value: str | None) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _secret(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.secret_key


def set_session_cookie(
    request: Request[Any, Any, Any], response: Response[Any], token: str
) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.https,
        max_age=settings.session_absolute_days * 86400,
        path="/",
    )


def sign_in_response(
    request: Request[Any, Any, Any], db: Session, user: User, target: str
) -> Redirect:
    """Start a new session (the one this browser had is ended) and redirect."""
    settings = request.app.state.settings
    token = auth.start_session(
        db,
        user,
        idle_minutes=settings.session_idle_minutes,
        absolute_days=settings.session_absolute_days,
        user_agent=request.headers.get("user-agent", ""),
        replace=scope_extras(request.scope).get("eclor_session_token")
        or request.cookies.get(auth.SESSION_COOKIE),
    )
    db.commit()
    response = Redirect(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


def _login_page(
    request: Request[Any, Any, Any],
    *,
    status_code: int = 200,
    next_url: str = "/",
    email: str = "",
    errors: dict[str, str] | None = None,
    notice: str = "",
) -> Template:
    settings = request.app.state.settings
    return page(
        request,
        "accounts/login.html",
        status_code=status_code,
        next=next_url,
        email=email,
        errors=errors or {},
        notice=notice,
        providers=oidc.providers(settings, request_territory(request).slug),
    )


# --- password sign-in, sign-out, sign-up --------------------------------------------------------


@get("/login", opt=PUBLIC, name="login_form")
async def login_form(
    request: Request[Any, Any, Any],
    next: FromQuery[str | None] = None,
    reset: FromQuery[str | None] = None,
) -> Template:
    notice = (
        _("Votre mot de passe a été changé. Connectez-vous avec le nouveau.")
        if reset == "done"
        else ""
    )
    return _login_page(request, next_url=safe_next(next), notice=notice)


@post("/login", opt=PUBLIC, sync_to_thread=True, name="login")
def login(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    email = data.get("email", "")[:254]
    target = safe_next(data.get("next"))
    ratelimit.check(
        db,
        _secret(request),
        [
            (ratelimit.LOGIN_IP, client_ip(request)),
            (ratelimit.LOGIN_ACCOUNT, auth.normalise_email(email)),
        ],
    )
    # The hits are counted; the password is checked (slow on purpose) outside the write lock.
    db.commit()
    user = auth.authenticate(db, email, data.get("password", ""))
    if user is None:
        return _login_page(
            request,
            status_code=400,
            next_url=target,
            email=email,
            errors={"__all__": _("E-mail ou mot de passe incorrect.")},
        )
    start_writing(db)
    return sign_in_response(request, db, user, target)


@post("/logout", opt=PUBLIC, sync_to_thread=True, name="logout")
def logout(request: Request[Any, Any, Any]) -> Redirect:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        auth.end_session(request.app.state.engine, token)
    response = Redirect("/", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@get("/signup", opt=PUBLIC, name="signup_form")
async def signup_form(
    request: Request[Any, Any, Any], sent: FromQuery[str | None] = None
) -> Template:
    return page(request, "accounts/signup.html", form={}, errors={}, sent=sent == "1")


@post("/signup", opt=PUBLIC, sync_to_thread=True, name="signup")
def signup(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    ratelimit.check(db, _secret(request), [(ratelimit.SIGNUP_IP, client_ip(request))])
    form, errors = parse_form(SignupForm, data)
    if form is None or errors:
        shown = {k: v for k, v in data.items() if k != "password"}
        return page(request, "accounts/signup.html", status_code=400, form=shown, errors=errors)
    # The same answer whether or not the address has an account: the e-mail tells its owner.
    signing_up.sign_up(
        db,
        form.email,
        display_name=form.display_name,
        base_url=site_url(request, request.app.state.settings.base_url),
        jinja=request.app.state.jinja,
        territory=request_territory(request),
    )
    db.commit()
    return Redirect("/signup?sent=1", status_code=303)


# --- password reset ----------------------------------------------------------------------------


@get("/password/forgot", opt=PUBLIC, name="password_forgot_form")
async def password_forgot_form(
    request: Request[Any, Any, Any], sent: FromQuery[str | None] = None
) -> Template:
    return page(
        request,
        "accounts/forgot.html",
        sent=sent == "1",
        email="",
        errors={},
        minutes=request.app.state.settings.password_reset_minutes,
    )


@post("/password/forgot", opt=PUBLIC, sync_to_thread=True, name="password_forgot")
def password_forgot(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    settings = request.app.state.settings
    email = auth.normalise_email(data.get("email", ""))[:254]
    if "@" not in email:
        return page(
            request,
            "accounts/forgot.html",
            status_code=400,
            sent=False,
            email=email,
            errors={"email": _("Adresse e-mail invalide.")},
            minutes=settings.password_reset_minutes,
        )
    ratelimit.check(
        db,
        _secret(request),
        [(ratelimit.RESET_IP, client_ip(request)), (ratelimit.RESET_ACCOUNT, email)],
    )
    accounts.request_password_reset(
        db,
        email,
        base_url=site_url(request, settings.base_url),
        minutes=settings.password_reset_minutes,
        jinja=request.app.state.jinja,
        territory=request_territory(request),
    )
    db.commit()
    # The same answer whether or not an account exists, so the page does not tell who has one.
    return Redirect("/password/forgot?sent=1", status_code=303)


@get("/password/reset/{token:str}", opt=PUBLIC, sync_to_thread=True, name="password_reset_form")
def password_reset_form(
    request: Request[Any, Any, Any], db: NamedDependency[Session], token: FromPath[str]
) -> Template:
    if accounts.valid_reset(db, token) is None:
        return page(request, "accounts/reset_invalid.html", status_code=400)
    return page(
        request,
        "accounts/reset.html",
        token=token,
        errors={},
        headers={"referrer-policy": "no-referrer", "cache-control": "no-store"},
    )


@post("/password/reset/{token:str}", opt=PUBLIC, sync_to_thread=True, name="password_reset")
def password_reset(
    request: Request[Any, Any, Any], db: NamedDependency[Session], token: FromPath[str], data: Form
) -> Template | Redirect:
    ratelimit.check(db, _secret(request), [(ratelimit.RESET_IP, client_ip(request))])
    if accounts.valid_reset(db, token) is None:
        return page(request, "accounts/reset_invalid.html", status_code=400)
    form, errors = parse_form(NewPasswordForm, data)
    if form is not None and form.password != form.password_again:
        errors["password_again"] = _("Les deux mots de passe ne sont pas identiques.")
    if form is None or errors:
        return page(
            request,
            "accounts/reset.html",
            status_code=400,
            token=token,
            errors=errors,
            headers={"referrer-policy": "no-referrer", "cache-control": "no-store"},
        )
    # The new password is hashed (slow on purpose) outside the write lock.
    db.commit()
    password_hash = auth.hash_password(form.password)
    start_writing(db)
    user = accounts.use_reset(db, token, password_hash)
    if user is None:
        return page(request, "accounts/reset_invalid.html", status_code=400)
    return sign_in_response(request, db, user, "/me?password=changed")


# --- OpenID Connect ----------------------------------------------------------------------------


def _provider_or_404(request: Request[Any, Any, Any], name: str) -> Any:
    # Only the providers the host's territory offers: another's is not found here.
    prov = oidc.provider(request.app.state.settings, name, request_territory(request).slug)
    if prov is None:
        raise NotFoundException()
    return prov


def _oidc_failed(
    request: Request[Any, Any, Any], label: str, message: str | None = None
) -> Template:
    return page(
        request,
        "accounts/oidc_error.html",
        status_code=400,
        label=label,
        message=message
        or _("La connexion n’a pas pu être vérifiée. Recommencez depuis la page de connexion."),
    )


def _start_oidc(
    request: Request[Any, Any, Any], db: Session, name: str, next_url: str, link_user_id: int | None
) -> Template | Redirect:
    settings = request.app.state.settings
    prov = _provider_or_404(request, name)
    ratelimit.check(db, _secret(request), [(ratelimit.LOGIN_IP, client_ip(request))])
    browser = secrets.token_urlsafe(32)
    try:
        url = oidc.begin(
            db,
            settings,
            prov,
            browser_token=browser,
            next_url=next_url,
            link_user_id=link_user_id,
            base_url=site_url(request, settings.base_url),
        )
    except oidc.OIDCError as exc:
        log.warning("oidc begin failed", extra={"provider": name, "reason": exc.reason})
        return _oidc_failed(
            request, prov.label, _("Le service de connexion ne répond pas. Réessayez plus tard.")
        )
    db.commit()
    response = Redirect(url, status_code=303)
    response.set_cookie(
        oidc.BINDING_COOKIE,
        browser,
        httponly=True,
        samesite="lax",
        secure=settings.https,
        max_age=int(oidc.LOGIN_TTL.total_seconds()),
        path="/login/oidc/",
    )
    return response


@post("/login/oidc/{name:str}", opt=PUBLIC, sync_to_thread=True, name="oidc_start")
def oidc_start(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str], data: Form
) -> Template | Redirect:
    return _start_oidc(request, db, name, safe_next(data.get("next")), None)


@post("/me/identities/{name:str}/link", opt=SIGNED_IN, sync_to_thread=True, name="oidc_link")
def oidc_link(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> Template | Redirect:
    return _start_oidc(request, db, name, "/me", signed_in_user(request).id)


@get("/login/oidc/{name:str}/callback", opt=PUBLIC, sync_to_thread=True, name="oidc_callback")
def oidc_callback(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    name: FromPath[str],
    oidc_state: Annotated[str, QueryParameter(name="state")] = "",
    code: FromQuery[str] = "",
    error: FromQuery[str] = "",
) -> Template | Redirect:
    settings = request.app.state.settings
    prov = _provider_or_404(request, name)
    begin_write(db)
    try:
        login = oidc.take_login(db, prov, oidc_state, request.cookies.get(oidc.BINDING_COOKIE))
    except oidc.OIDCError as exc:
        log.warning("oidc callback refused", extra={"provider": name, "reason": exc.reason})
        db.commit()  # the state is spent even when the rest is refused
        return _oidc_failed(request, prov.label)
    db.commit()
    begin_write(db)
    if error:
        log.info("oidc sign-in cancelled", extra={"provider": name, "error": error[:100]})
        return _oidc_failed(request, prov.label, _("La connexion a été annulée."))
    try:
        verified = oidc.exchange_and_verify(
            settings, prov, login, code, base_url=site_url(request, settings.base_url)
        )
        if verified.link_user_id is not None:
            user_now = current_user(request)
            if user_now is None or user_now.id != verified.link_user_id:
                raise oidc.OIDCError("link finished by another session")
        user = oidc.account_for(db, verified, request_territory(request).id)
    except oidc.EmailTaken:
        db.rollback()
        return _oidc_failed(
            request,
            prov.label,
            _(
                "Un compte Eclor existe déjà avec cette adresse e-mail. Connectez-vous avec votre mot de passe, "
                "puis reliez ce service depuis « Mon compte »."
            ),
        )
    except oidc.OIDCError as exc:
        db.rollback()
        log.warning("oidc sign-in refused", extra={"provider": name, "reason": exc.reason})
        return _oidc_failed(request, prov.label)
    if verified.link_user_id is not None:
        db.commit()
        return Redirect("/me?linked=1", status_code=303)
    response = sign_in_response(request, db, user, safe_next(verified.next_url))
    response.delete_cookie(oidc.BINDING_COOKIE, path="/login/oidc/")
    return response


@post(
    "/me/identities/{identity_id:int}/delete",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="identity_delete",
)
def identity_delete(
    request: Request[Any, Any, Any], db: NamedDependency[Session], identity_id: FromPath[int]
) -> Template | Redirect:
    me_ = signed_in_user(request)
    identity = db.get(Identity, identity_id)
    if identity is None or identity.user_id != me_.id:
        raise NotFoundException()
    user = db.get(User, me_.id)
    others = db.scalars(
        select(col(Identity.id)).where(
            col(Identity.user_id) == me_.id, col(Identity.id) != identity_id
        )
    ).all()
    if user is None or (user.password_hash is None and not others):
        return _me_page(
            request,
            db,
            status_code=400,
            error=_(
                "C’est votre seul moyen de connexion : choisissez d’abord un mot de passe (« Mot de passe oublié »)."
            ),
        )
    db.delete(identity)
    db.commit()
    return Redirect("/me", status_code=303)


# --- one's own account ---------------------------------------------------------------------------


def _me_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    error: str = "",
    notice: str = "",
) -> Template:
    me_ = signed_in_user(request)
    user = db.get(User, me_.id)
    identities = db.scalars(
        select(Identity).where(col(Identity.user_id) == me_.id).order_by(col(Identity.id))
    ).all()
    settings = request.app.state.settings
    linked = {i.provider for i in identities}
    links = [link for link in ACCOUNT_LINKS if not link.roles or me_.role in link.roles]
    return page(
        request,
        "accounts/me.html",
        status_code=status_code,
        section="me",
        account=user,
        identities=identities,
        providers={p.name: p.label for p in oidc.providers(settings)},
        linkable=[
            p
            for p in oidc.providers(settings, request_territory(request).slug)
            if p.name not in linked
        ],
        account_links=links,
        error=error,
        notice=notice,
    )


@get("/me", opt=SIGNED_IN, sync_to_thread=True, name="me")
def me(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    password: FromQuery[str | None] = None,
    linked: FromQuery[str | None] = None,
) -> Template:
    notice = ""
    if password == "changed":
        notice = _("Votre mot de passe a été changé ; vos autres sessions ont été fermées.")
    elif linked == "1":
        notice = _("Le service de connexion a été relié à votre compte.")
    return _me_page(request, db, notice=notice)


@get("/me/export", opt=SIGNED_IN, sync_to_thread=True, name="me_export")
def me_export(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Response[bytes]:
    user_id = signed_in_user(request).id
    body = accounts.export_zip(db, user_id, request.app.state.settings.resolved_media_dir)
    stamp = utcnow().strftime("%Y-%m-%d")
    return Response(
        body,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="eclor-mes-donnees-{stamp}.zip"',
            "cache-control": "no-store",
        },
    )


def _recently_signed_in(db: Session, request: Request[Any, Any, Any]) -> bool:
    sid = signed_in_user(request).session_id
    ws = db.get(WebSession, sid)
    return ws is not None and utcnow() - ws.created_at < RECENT_SIGN_IN


def _delete_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> Template:
    user = db.get(User, signed_in_user(request).id)
    settings = request.app.state.settings
    return page(
        request,
        "accounts/delete.html",
        status_code=status_code,
        section="me",
        account=user,
        needs_password=user is not None and user.password_hash is not None,
        recent=_recently_signed_in(db, request),
        errors=errors or {},
        providers=oidc.providers(settings),
    )


@get("/me/delete", opt=SIGNED_IN, sync_to_thread=True, name="me_delete_form")
def me_delete_form(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _delete_page(request, db)


@post("/me/delete", opt=SIGNED_IN, sync_to_thread=True, name="me_delete")
def me_delete(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    me_ = signed_in_user(request)
    settings = request.app.state.settings
    user = db.get(User, me_.id)
    if user is None:
        raise NotFoundException()
    if data.get("confirm") != "yes":
        return _delete_page(
            request,
            db,
            status_code=400,
            errors={"confirm": _("Cochez la case pour confirmer la suppression.")},
        )
    if user.password_hash is not None:
        ratelimit.check(db, _secret(request), [(ratelimit.LOGIN_ACCOUNT, user.email)])
        # The hit is counted; the password is checked (slow on purpose) outside the write lock.
        db.commit()
        if not auth.verify_password(user.password_hash, data.get("password", "")):
            return _delete_page(
                request, db, status_code=400, errors={"password": _("Mot de passe incorrect.")}
            )
        start_writing(db)
    elif not _recently_signed_in(db, request):
        return _delete_page(
            request,
            db,
            status_code=400,
            errors={
                "__all__": _(
                    "Pour confirmer, reconnectez-vous d’abord, puis revenez sur cette page."
                )
            },
        )
    media = settings.resolved_media_dir
    files = accounts.delete_account(db, saved_id(user), media)
    db.commit()
    accounts.remove_files(files, media)
    log.info("account deleted", extra={"user_id": me_.id})
    response = Redirect("/account-deleted", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@get("/account-deleted", opt=PUBLIC, name="account_deleted")
async def account_deleted(request: Request[Any, Any, Any]) -> Template:
    return page(request, "accounts/deleted.html")


# --- plain-French legal pages ----------------------------------------------------------------------


@get("/privacy", opt=PUBLIC, name="privacy")
async def privacy_page(request: Request[Any, Any, Any]) -> Template:
    settings = request.app.state.settings
    return page(
        request,
        "accounts/privacy.html",
        section="about",
        reset_minutes=settings.password_reset_minutes,
        idle_days=max(1, settings.session_idle_minutes // (60 * 24)),
        absolute_days=settings.session_absolute_days,
    )


@get("/terms", opt=PUBLIC, name="terms")
async def terms_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "accounts/terms.html", section="about")


ROUTES = [
    login_form,
    login,
    logout,
    signup_form,
    signup,
    password_forgot_form,
    password_forgot,
    password_reset_form,
    password_reset,
    oidc_start,
    oidc_link,
    oidc_callback,
    identity_delete,
    me,
    me_export,
    me_delete_form,
    me_delete,
    account_deleted,
    privacy_page,
    terms_page,
]

CONTRIBUTES = Contribution(routes=ROUTES)
