"""Baseline for bench/pages.py: a bare Litestar handler that renders the home page's
template with the same data, loaded once at start-up (no middleware, no database
per request, no session, no CSRF, no compression)."""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from sqlalchemy import select
from sqlmodel import Session

from app import domains
from app.db import make_engine
from app.home import load_panels
from app.models.territory import Commune
from app.templating import make_environment

domains.install()  # the domains' home panels, as create_app() installs them
_engine = make_engine(os.environ["ECLOR_DATABASE_URL"])
with Session(_engine) as _s:
    COMMUNES = list(_s.scalars(select(Commune).order_by(Commune.name)).all())
    PANELS = load_panels(_s, None)
CONTEXT: dict[str, Any] = {
    "section": "home",
    "panels": PANELS,
    "communes": COMMUNES,
    "user": None,
    "csp_nonce": "bench",
    "locale": "fr",
    "path": "/",
    "htmx": False,
}


@get("/", sync_to_thread=False)
def home() -> Template:
    return Template(template_name="home/index.html", context=CONTEXT)


app = Litestar(
    route_handlers=[home],
    template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(make_environment())),
)
