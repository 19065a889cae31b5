"""Sign-in, sign-out, sign-up and one's own account page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlmodel import Session

from app import auth
from app.auth import PUBLIC, SIGNED_IN, current_user
from app.forms import parse_form
from app.i18n import gettext as _
from app.models.accounts import User
from app.templating import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


class SignupForm(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
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


def sign_in_response(request: Request[Any, Any, Any], db: Session, user: User, target: str) -> Redirect:
    settings = request.app.state.settings
    token = auth.start_session(
        db, user, idle_minutes=settings.session_idle_minutes, absolute_days=settings.session_absolute_days,
        user_agent=request.headers.get("user-agent", ""), replace=request.scope.get("eclor_session_token")
        or request.cookies.get(auth.SESSION_COOKIE),
    )
    db.commit()
    response = Redirect(target, status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=settings.https,
                        max_age=settings.session_absolute_days * 86400, path="/")
    return response


@get("/login", opt=PUBLIC, name="login_form")
async def login_form(request: Request[Any, Any, Any], next: str | None = None) -> Template:
    return page(request, "accounts/login.html", next=safe_next(next), errors={}, email="")


@post("/login", opt=PUBLIC, sync_to_thread=True, name="login")
def login(request: Request[Any, Any, Any], db: Session, data: Form) -> Template | Redirect:
    email = data.get("email", "")
    user = auth.authenticate(db, email, data.get("password", ""))
    target = safe_next(data.get("next"))
    if user is None:
        return page(request, "accounts/login.html", status_code=400, next=target, email=email,
                    errors={"__all__": _("E-mail ou mot de passe incorrect.")})
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
async def signup_form(request: Request[Any, Any, Any]) -> Template:
    return page(request, "accounts/signup.html", form={}, errors={})


@post("/signup", opt=PUBLIC, sync_to_thread=True, name="signup")
def signup(request: Request[Any, Any, Any], db: Session, data: Form) -> Template | Redirect:
    form, errors = parse_form(SignupForm, data)
    if form is not None and db.scalars(select(User.id).where(User.email == form.email)).first():
        errors["email"] = _("Un compte existe déjà avec cette adresse.")
    if form is None or errors:
        shown = {k: v for k, v in data.items() if k != "password"}
        return page(request, "accounts/signup.html", status_code=400, form=shown, errors=errors)
    user = auth.create_user(db, form.email, password=form.password, display_name=form.display_name)
    return sign_in_response(request, db, user, "/me")


@get("/me", opt=SIGNED_IN, sync_to_thread=True, name="me")
def me(request: Request[Any, Any, Any], db: Session) -> Template:
    user = db.get(User, current_user(request).id)  # type: ignore[union-attr]
    return page(request, "accounts/me.html", section="me", account=user)


ROUTES = [login_form, login, logout, signup_form, signup, me]
