"""The monthly summary as a PDF an elected official takes to the council (the one module using fpdf2).

fpdf2's built-in Helvetica writes Windows-1252 text: the few signs outside it (CO₂'s subscript,
arrows) are written plainly (CO2, ->).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fpdf import FPDF

from app.i18n import gettext as _
from app.insights.figures import THEMES, CommuneInfo, Headline
from app.insights.od import Matrix

PLAIN = str.maketrans(
    {"₂": "2", "→": "->", "≤": "<=", "≥": ">=", "−": "-", "\u202f": " ", "\u00a0": " "}
)


def _text(value: str) -> str:
    return value.translate(PLAIN).encode("cp1252", "replace").decode("cp1252")


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")
    return text


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f} %".replace(".", ",")


def _value(h: Headline, value: float | None) -> str:
    if value is None:
        return _("moins de 11") if h.figure.kind == "count" else "-"
    digits = 1 if h.figure.kind == "mean" else 0
    return (_number(value, digits) + (" " + h.figure.unit if h.figure.unit else "")).strip()


def monthly_summary(
    month: str,
    summary: Mapping[str, Sequence[Headline]],
    matrix: Matrix,
    places: Sequence[CommuneInfo],
) -> bytes:
    doc = FPDF(orientation="P", unit="mm", format="A4")
    doc.core_fonts_encoding = "windows-1252"  # the euro sign, French quotes
    doc.set_title(_text(_("Synthèse mensuelle %(month)s") % {"month": month}))
    doc.set_author("Eclor")
    doc.set_auto_page_break(auto=True, margin=15)
    doc.add_page()
    doc.set_font("Helvetica", "B", 16)
    doc.cell(
        0,
        10,
        _text(_("Synthèse mensuelle du territoire : %(month)s") % {"month": month}),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.set_font("Helvetica", "", 9)
    doc.multi_cell(
        0,
        5,
        _text(
            _(
                "Chaque chiffre est comparé au même mois de l'année précédente, et les 12 derniers mois aux 12 précédents. "
                "Les nombres inférieurs à 11 sont masqués, comme dans les données ouvertes."
            )
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    widths = (70, 32, 32, 22, 34)
    heads = (
        _("Indicateur"),
        _("Ce mois"),
        _("Même mois N-1"),
        _("Évolution"),
        _("Pour 1 000 hab."),
    )
    factors: list[str] = []
    for slug, title, _intro in THEMES:
        headlines = summary.get(slug) or []
        if not headlines:
            continue
        doc.ln(3)
        doc.set_font("Helvetica", "B", 12)
        doc.cell(0, 8, _text(_(title)), new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", "B", 8)
        for w, head in zip(widths, heads, strict=True):
            doc.cell(w, 6, _text(head), border=1)
        doc.ln()
        doc.set_font("Helvetica", "", 8)
        for h in headlines:
            cells = (
                _(h.figure.title),
                _value(h, h.value),
                _value(h, h.last_year),
                _pct(h.change),
                "-" if h.per_1000 is None else _number(h.per_1000, 1),
            )
            for w, text in zip(widths, cells, strict=True):
                doc.cell(w, 6, _text(text)[:60], border=1)
            doc.ln()
            extra = []
            if h.euros is not None:
                extra.append(_number(h.euros) + " €")
            if h.co2_t is not None:
                extra.append(_number(h.co2_t, 2) + " t CO₂e")
            if extra:
                doc.cell(0, 5, _text("    " + " · ".join(extra)), new_x="LMARGIN", new_y="NEXT")
            for factor in (h.figure.euros, h.figure.co2):
                if factor is not None and _(factor.source) not in factors:
                    factors.append(_(factor.source))
    doc.ln(3)
    doc.set_font("Helvetica", "B", 12)
    doc.cell(
        0, 8, _text(_("Déplacements domicile-travail covoiturés")), new_x="LMARGIN", new_y="NEXT"
    )
    doc.set_font("Helvetica", "", 8)
    share = matrix.cross_border_share
    doc.cell(
        0,
        5,
        _text(
            _("Part transfrontalière des trajets : %(share)s")
            % {"share": "-" if share is None else f"{share * 100:.0f} %"}
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for row in matrix.rows()[:12]:
        if row["trips"] is None:
            continue
        doc.cell(
            0,
            5,
            _text(
                f"{row['from_name']} ({row['from_country']}) -> {row['to_name']} ({row['to_country']}) : {row['trips']}"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    if factors:
        doc.ln(3)
        doc.set_font("Helvetica", "B", 9)
        doc.cell(0, 6, _text(_("Facteurs utilisés")), new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", "", 8)
        for text in factors:
            doc.multi_cell(0, 4, _text("- " + text), new_x="LMARGIN", new_y="NEXT")
    sources = sorted({p.source for p in places if p.source})
    if sources:
        doc.set_font("Helvetica", "", 7)
        doc.multi_cell(
            0,
            4,
            _text(_("Populations : %(sources)s") % {"sources": "; ".join(sources)}),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    out: Any = doc.output()
    return bytes(out)
