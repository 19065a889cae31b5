"""Reading HTML forms: a dict of fields in, a validated schema or French error messages out."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from litestar.enums import RequestEncodingType
from litestar.params import Body
from pydantic import BaseModel, ValidationError

from app.i18n import gettext as _

M = TypeVar("M", bound=BaseModel)

# Request bodies of HTML forms, for handlers' ``data`` parameter.
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
TextForm = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_too_short": "Ce champ est trop court.",
    "string_too_long": "Ce champ est trop long.",
    "value_error": "Valeur invalide.",
    "int_parsing": "Un nombre entier est attendu.",
    "float_parsing": "Un nombre est attendu.",
    "greater_than_equal": "La valeur est trop petite.",
    "less_than_equal": "La valeur est trop grande.",
    "literal_error": "Choix invalide.",
    "enum": "Choix invalide.",
    "string_pattern_mismatch": "Format invalide.",
    "datetime_parsing": "Date et heure invalides.",
    "date_parsing": "Date invalide.",
    "date_from_datetime_parsing": "Date invalide.",
    "time_parsing": "Heure invalide.",
}


def parse_form(schema: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """Validate ``data`` with ``schema``; on failure return field → French message."""
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    cleaned = {k: v for k, v in cleaned.items() if v != ""}
    try:
        return schema.model_validate(cleaned), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "__all__"
            if err["type"] == "value_error":
                message = str(err.get("ctx", {}).get("error", "")) or _MESSAGES["value_error"]
            else:
                message = _MESSAGES.get(err["type"], "Valeur invalide.")
            errors.setdefault(field, _(message))
        return None, errors
