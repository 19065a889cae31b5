"""CAP 1.2: parsing, validation, safe XML, round trip, area matching, push mapping."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.alerts import cap, cap_areas, cap_read, cap_write
from app.alerts.cap import (
    CapAlert,
    CapArea,
    CapCircle,
    CapError,
    CapInfo,
    CapReference,
    CapResource,
    CapValue,
)
from app.alerts.cap_areas import Commune

DATA = Path(__file__).parent / "data" / "cap"
ALERT = "meteofrance_neige_verglas_alert.xml"
UPDATE = "meteofrance_neige_verglas_update.xml"
CANCEL = "meteofrance_neige_verglas_cancel.xml"
METEOLUX = "meteolux_vent_cercle.xml"
EMMA = "meteoalarm_pluie_emma_id.xml"
SAMPLES = sorted(path.name for path in DATA.glob("*.xml"))

CET = timezone(timedelta(hours=1))

# The 8 communes of the territory (INSEE code, name, approximate centre).
COMMUNES = [
    Commune("57038", "Audun-le-Tiche", 49.472, 5.955),
    Commune("57041", "Aumetz", 49.418, 5.944),
    Commune("57097", "Boulange", 49.382, 5.951),
    Commune("57529", "Ottange", 49.440, 6.017),
    Commune("57565", "Rédange", 49.493, 5.918),
    Commune("57602", "Russange", 49.483, 5.953),
    Commune("54523", "Thil", 49.473, 5.905),
    Commune("54580", "Villerupt", 49.467, 5.929),
]
MOSELLE = {"57038", "57041", "57097", "57529", "57565", "57602"}
MEURTHE_ET_MOSELLE = {"54523", "54580"}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def mutated(name: str, old: str, new: str) -> bytes:
    """The sample with one exact fragment replaced (the fragment must be there)."""
    text = sample(name).decode("utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {name}"
    return text.replace(old, new, 1).encode("utf-8")


def refused(data: bytes) -> CapError:
    with pytest.raises(CapError) as caught:
        cap_read.parse(data)
    return caught.value


def area(**fields: object) -> CapArea:
    return CapArea(areaDesc="zone", **fields)


def info(urgency: str = "Immediate", severity: str = "Severe", **fields: object) -> CapInfo:
    return CapInfo(
        language="fr-FR",
        category=["Met"],
        event="Neige-verglas",
        urgency=urgency,
        severity=severity,
        certainty="Likely",
        **fields,
    )


def rich_alert() -> CapAlert:
    """An alert that uses every part of the model, built in code."""
    return CapAlert(
        identifier="eclor-2026-0042",
        sender="alertes@pays-haut-val-alzette.example",
        sent=datetime(2026, 11, 22, 7, 15, 0, tzinfo=UTC),
        status="Exercise",
        msgType="Update",
        source="Cellule de crise intercommunale",
        scope="Private",
        restriction=None,
        addresses=["astreinte@ccphva.example", "Cellule de crise"],
        code=["Eclor", "exercice annuel"],
        note="Exercice : aucune action réelle.\r\nLigne 2 <&>",
        references=[
            CapReference(
                "alertes@pays-haut-val-alzette.example",
                "eclor-2026-0041",
                datetime(2026, 11, 22, 8, 0, 0, tzinfo=CET),
            )
        ],
        incidents=["EXERCICE-2026", "Coupure eau"],
        infos=[
            CapInfo(
                language="fr-FR",
                category=["Infra", "Safety"],
                event="Coupure d'eau potable",
                responseType=["Prepare", "Monitor"],
                urgency="Expected",
                severity="Moderate",
                certainty="Possible",
                audience="Habitants d'Audun-le-Tiche",
                eventCode=[CapValue("eclor", "eau")],
                effective=datetime(2026, 11, 22, 7, 15, 0, tzinfo=UTC),
                onset=datetime(2026, 11, 22, 9, 0, 0, tzinfo=CET),
                expires=datetime(2026, 11, 22, 18, 30, 0, tzinfo=timezone(timedelta(hours=-5))),
                senderName="Communauté de communes",
                headline="Coupure d'eau",
                description="  Travaux sur le réseau  ",
                instruction="Constituez une réserve.",
                web="https://eclor.example/alerts/42",
                contact="03 82 00 00 00",
                parameter=[CapValue("niveau", ""), CapValue("source", "eclor")],
                resources=[
                    CapResource(
                        resourceDesc="Plan",
                        mimeType="image/png",
                        size=1234,
                        uri="plan.png",
                        derefUri="iVBORw0KGgo=",
                        digest="da39a3ee5e6b4b0d3255bfef95601890afd80709",
                    )
                ],
                areas=[
                    CapArea(
                        areaDesc="Audun-le-Tiche",
                        polygons=[[(49.465, 5.94), (49.465, 5.97), (49.492, 5.97), (49.465, 5.94)]],
                        circles=[CapCircle((49.472, 5.955), 0.5), CapCircle((0.00001, -0.0), 0.0)],
                        geocodes=[CapValue("INSEE", "57038")],
                        altitude=250.5,
                        ceiling=1000.0,
                    )
                ],
            )
        ],
    )


# --- Accepting valid messages -------------------------------------------------


def test_it_accepts_the_valid_meteofrance_alert() -> None:
    alert = cap_read.parse(sample(ALERT))
    assert alert.identifier == "2.49.0.0.250.0.FR.20261122060512.805971"
    assert alert.sender == "vigilance.meteofrance.fr"
    assert alert.sent == datetime(2026, 11, 22, 6, 5, 12, tzinfo=CET)
    assert alert.sent.utcoffset() == timedelta(hours=1)
    assert (alert.status, alert.msgType, alert.scope) == ("Actual", "Alert", "Public")
    assert alert.code == ["MeteoAlarm"]
    assert alert.references == []
    assert [i.language for i in alert.infos] == ["fr-FR", "en-GB"]
    fr = alert.infos[0]
    assert fr.event == "Neige-verglas"
    assert fr.category == ["Met"]
    assert fr.responseType == ["Prepare"]
    assert (fr.urgency, fr.severity, fr.certainty) == ("Immediate", "Severe", "Likely")
    assert fr.expires == datetime(2026, 11, 23, 10, 0, 0, tzinfo=CET)
    assert fr.parameter == [
        ("awareness_level", "3; orange; Severe"),
        ("awareness_type", "2; snow-ice"),
    ]
    ring = fr.areas[0].polygons[0]
    assert fr.areas[0].areaDesc == "Moselle (nord)"
    assert len(ring) == 9
    assert ring[0] == ring[-1] == (49.505, 5.910)


def test_it_accepts_the_update_that_references_the_alert() -> None:
    alert = cap_read.parse(sample(ALERT))
    update = cap_read.parse(sample(UPDATE))
    assert update.msgType == "Update"
    assert update.references == [(alert.sender, alert.identifier, alert.sent)]
    assert update.incidents == ["NEIGE-57-2026-11-22"]
    assert update.infos[0].expires == datetime(2026, 11, 23, 16, 0, 0, tzinfo=CET)


def test_it_accepts_the_cancel_that_references_both_earlier_messages() -> None:
    alert = cap_read.parse(sample(ALERT))
    update = cap_read.parse(sample(UPDATE))
    cancel = cap_read.parse(sample(CANCEL))
    assert cancel.msgType == "Cancel"
    assert [ref.identifier for ref in cancel.references] == [alert.identifier, update.identifier]
    assert cancel.references[1].sent == update.sent
    assert cancel.infos[0].responseType == ["AllClear"]


def test_it_accepts_a_meteolux_alert_with_a_circle_and_altitudes() -> None:
    alert = cap_read.parse(sample(METEOLUX))
    first, second = alert.infos[0].areas
    assert first.circles == [((49.4958, 5.9806), 4.0)]
    assert first.circles[0].radius_km == 4.0
    assert (first.altitude, first.ceiling) == (0.0, 3000.0)
    assert second.geocodes == [("NUTS3", "LU000")]


def test_it_accepts_minus_zero_offset_as_utc() -> None:
    alert = cap_read.parse(sample(EMMA))
    assert alert.sent == datetime(2026, 11, 24, 5, 0, 0, tzinfo=UTC)
    assert alert.sent.utcoffset() == timedelta(0)
    assert alert.infos[0].resources == [
        CapResource(
            resourceDesc="Carte de vigilance",
            mimeType="image/png",
            size=48213,
            uri="https://vigilance.meteofrance.fr/carte/20261124.png",
        )
    ]


def test_it_takes_en_us_when_the_language_is_absent() -> None:
    alert = cap_read.parse(mutated(CANCEL, "<language>fr-FR</language>", ""))
    assert alert.infos[0].language == "en-US"


def test_it_skips_an_xml_signature_at_the_end_of_the_alert() -> None:
    signature = '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature>'
    alert = cap_read.parse(mutated(CANCEL, "</alert>", signature + "</alert>"))
    assert alert == cap_read.parse(sample(CANCEL))


# --- Required elements ----------------------------------------------------------


def test_it_refuses_a_missing_identifier() -> None:
    error = refused(
        mutated(ALERT, "<identifier>2.49.0.0.250.0.FR.20261122060512.805971</identifier>", "")
    )
    assert error.path == "alert.identifier"
    assert "obligatoire" in error.message
    assert isinstance(error, ValueError)


def test_it_refuses_an_empty_identifier() -> None:
    error = refused(
        mutated(
            ALERT,
            "<identifier>2.49.0.0.250.0.FR.20261122060512.805971</identifier>",
            "<identifier> </identifier>",
        )
    )
    assert error.path == "alert.identifier"


def test_it_refuses_an_identifier_with_a_space_or_comma() -> None:
    error = refused(
        mutated(ALERT, "2.49.0.0.250.0.FR.20261122060512.805971</identifier>", "a,b</identifier>")
    )
    assert error.path == "alert.identifier"


def test_it_refuses_a_missing_info_event() -> None:
    error = refused(mutated(ALERT, "<event>Neige-verglas</event>", ""))
    assert error.path == "alert.info[0].event"
    assert "<event>" in error.message


def test_it_refuses_a_missing_area_desc() -> None:
    error = refused(mutated(ALERT, "<areaDesc>Moselle (north)</areaDesc>", ""))
    assert error.path == "alert.info[1].area[0].areaDesc"


def test_it_refuses_an_info_without_category() -> None:
    error = refused(mutated(CANCEL, "<category>Met</category>", ""))
    assert error.path == "alert.info[0].category"


def test_it_refuses_restricted_scope_without_restriction() -> None:
    error = refused(mutated(CANCEL, "<scope>Public</scope>", "<scope>Restricted</scope>"))
    assert error.path == "alert.restriction"
    assert "Restricted" in error.message


def test_it_accepts_restricted_scope_with_restriction() -> None:
    alert = cap_read.parse(
        mutated(
            CANCEL,
            "<scope>Public</scope>",
            "<scope>Restricted</scope><restriction>Services de secours</restriction>",
        )
    )
    assert alert.restriction == "Services de secours"


def test_it_refuses_private_scope_without_addresses() -> None:
    error = refused(mutated(CANCEL, "<scope>Public</scope>", "<scope>Private</scope>"))
    assert error.path == "alert.addresses"


def test_it_refuses_an_update_without_references() -> None:
    text = sample(UPDATE).decode()
    start, end = text.index("<references>"), text.index("</references>") + len("</references>")
    error = refused((text[:start] + text[end:]).encode())
    assert error.path == "alert.references"
    assert "Update" in error.message


@pytest.mark.parametrize("msg_type", ["Ack", "Error"])
def test_it_refuses_an_ack_or_error_without_references(msg_type: str) -> None:
    error = refused(mutated(ALERT, "<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>"))
    assert error.path == "alert.references"


def test_it_refuses_an_unreadable_reference() -> None:
    error = refused(
        mutated(
            UPDATE,
            "805971,2026-11-22T06:05:12+01:00</references>",
            "805971</references>",
        )
    )
    assert error.path == "alert.references[0]"


# --- Enumerations -----------------------------------------------------------------


def test_it_refuses_status_real() -> None:
    error = refused(mutated(ALERT, "<status>Actual</status>", "<status>Real</status>"))
    assert error.path == "alert.status"
    assert "Real" in error.message and "Actual" in error.message


def test_it_refuses_severity_high() -> None:
    error = refused(mutated(ALERT, "<severity>Severe</severity>", "<severity>High</severity>"))
    assert error.path == "alert.info[0].severity"
    assert "Extreme, Severe, Moderate, Minor, Unknown" in error.message


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("<msgType>Alert</msgType>", "<msgType>Warning</msgType>", "alert.msgType"),
        ("<scope>Public</scope>", "<scope>public</scope>", "alert.scope"),
        ("<category>Met</category>", "<category>Weather</category>", "alert.info[0].category[0]"),
        (
            "<responseType>Prepare</responseType>",
            "<responseType>Hide</responseType>",
            "alert.info[0].responseType[0]",
        ),
        ("<urgency>Immediate</urgency>", "<urgency>Now</urgency>", "alert.info[0].urgency"),
        (
            "<certainty>Likely</certainty>",
            "<certainty>Very Likely</certainty>",
            "alert.info[0].certainty",
        ),
    ],
)
def test_it_refuses_values_outside_every_enumeration(old: str, new: str, path: str) -> None:
    assert refused(mutated(ALERT, old, new)).path == path


# --- Geometry ---------------------------------------------------------------------------


def test_it_refuses_an_open_polygon() -> None:
    error = refused(
        mutated(
            CANCEL, "49.485,5.910 49.505,5.910</polygon>", "49.485,5.910 49.500,5.910</polygon>"
        )
    )
    assert error.path == "alert.info[0].area[0].polygon[0]"
    assert "fermé" in error.message


def test_it_refuses_a_three_point_polygon() -> None:
    text = sample(CANCEL).decode()
    start = text.index("<polygon>")
    end = text.index("</polygon>") + len("</polygon>")
    triangle = "<polygon>49.47,5.95 49.48,5.96 49.47,5.95</polygon>"
    error = refused((text[:start] + triangle + text[end:]).encode())
    assert error.path == "alert.info[0].area[0].polygon[0]"
    assert "4 points" in error.message


def test_it_refuses_an_unreadable_polygon_point() -> None:
    error = refused(mutated(CANCEL, "<polygon>49.505,5.910 ", "<polygon>49.505;5.910 "))
    assert error.path == "alert.info[0].area[0].polygon[0]"


@pytest.mark.parametrize(
    ("circle", "word"),
    [("91,5.98 4", "latitude"), ("49.49,181 4", "longitude"), ("49.49,5.98 -1", "rayon")],
)
def test_it_refuses_coordinates_out_of_range_and_a_negative_radius(circle: str, word: str) -> None:
    error = refused(
        mutated(METEOLUX, "<circle>49.4958,5.9806 4</circle>", f"<circle>{circle}</circle>")
    )
    assert error.path == "alert.info[0].area[0].circle[0]"
    assert word in error.message


def test_it_accepts_a_zero_radius() -> None:
    alert = cap_read.parse(mutated(METEOLUX, "5.9806 4</circle>", "5.9806 0</circle>"))
    assert alert.infos[0].areas[0].circles[0].radius_km == 0.0


def test_it_refuses_a_ceiling_without_altitude() -> None:
    error = refused(mutated(METEOLUX, "<altitude>0</altitude>", ""))
    assert error.path == "alert.info[0].area[0].ceiling"


# --- Times ---------------------------------------------------------------------------


def test_it_refuses_a_time_without_offset() -> None:
    error = refused(
        mutated(ALERT, "<sent>2026-11-22T06:05:12+01:00</sent>", "<sent>2026-11-22T06:05:12</sent>")
    )
    assert error.path == "alert.sent"
    assert "décalage" in error.message


def test_it_refuses_an_info_time_without_offset() -> None:
    error = refused(
        mutated(CANCEL, "<expires>2026-11-23T20:00:00+01:00", "<expires>2026-11-23T20:00:00")
    )
    assert error.path == "alert.info[0].expires"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-22T06:05:12Z",
        "2026-11-22T06:05:12.250+01:00",
        "2026-11-22 06:05:12+01:00",
        "2026-02-30T06:05:12+01:00",
        "2026-11-22T06:05:12+15:00",
    ],
)
def test_it_refuses_times_outside_the_cap_format(value: str) -> None:
    error = refused(
        mutated(ALERT, "<sent>2026-11-22T06:05:12+01:00</sent>", f"<sent>{value}</sent>")
    )
    assert error.path == "alert.sent"


def test_it_reads_negative_offsets() -> None:
    assert cap.parse_time("2026-11-22T02:05:12-05:00") == datetime(
        2026, 11, 22, 7, 5, 12, tzinfo=UTC
    )


# --- Not CAP 1.2 ---------------------------------------------------------------


def test_it_refuses_cap_1_1() -> None:
    error = refused(mutated(CANCEL, "cap:1.2", "cap:1.1"))
    assert error.path == "alert"
    assert "1.1" in error.message


def test_it_refuses_an_alert_without_namespace() -> None:
    error = refused(mutated(CANCEL, ' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', ""))
    assert error.path == "alert"


def test_it_refuses_another_root_element() -> None:
    data = b'<feed xmlns="urn:oasis:names:tc:emergency:cap:1.2"><alert/></feed>'
    assert "<feed>" in refused(data).message


def test_it_refuses_an_unknown_element() -> None:
    error = refused(mutated(CANCEL, "<note>", "<colour>orange</colour><note>"))
    assert error.path == "alert.colour"


def test_it_refuses_an_element_from_another_namespace() -> None:
    error = refused(mutated(CANCEL, "<note>", '<x:note xmlns:x="urn:example">a</x:note><note>'))
    assert error.path == "alert.note"
    assert "espace de noms" in error.message


def test_it_refuses_a_repeated_single_element() -> None:
    error = refused(
        mutated(CANCEL, "<event>Neige-verglas</event>", "<event>A</event><event>B</event>")
    )
    assert error.path == "alert.info[0].event"


def test_it_refuses_elements_out_of_schema_order() -> None:
    error = refused(
        mutated(
            CANCEL,
            "<status>Actual</status>\n  <msgType>Cancel</msgType>",
            "<msgType>Cancel</msgType>\n  <status>Actual</status>",
        )
    )
    assert error.path == "alert.status"


def test_it_refuses_malformed_xml() -> None:
    error = refused(mutated(CANCEL, "</alert>", ""))
    assert error.path == "document"


def test_it_refuses_a_document_over_the_size_cap() -> None:
    padding = "<!-- " + "x" * cap.MAX_BYTES + " -->"
    error = refused(mutated(CANCEL, "</alert>", "</alert>" + padding))
    assert error.path == "document"
    assert "volumineux" in error.message


def test_it_wants_bytes() -> None:
    with pytest.raises(TypeError):
        cap_read.parse(sample(CANCEL).decode())


# --- Hostile XML --------------------------------------------------------------------

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>&xxe;</identifier>
  <sender>attacker</sender>
  <sent>2026-11-22T06:05:12+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
</alert>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""


def test_it_refuses_an_xxe_payload() -> None:
    error = refused(XXE)
    assert error.path == "document"
    assert "DOCTYPE" in error.message
    assert "root:" not in str(error)


def test_it_refuses_a_billion_laughs_payload_quickly() -> None:
    started = time.monotonic()
    error = refused(BILLION_LAUGHS)
    assert time.monotonic() - started < 1.0
    assert error.path == "document"


def test_it_refuses_any_doctype() -> None:
    error = refused(mutated(CANCEL, "<alert ", "<!DOCTYPE alert>\n<alert "))
    assert error.path == "document"
    assert "DOCTYPE" in error.message


# --- Writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_it_round_trips_every_sample(name: str) -> None:
    alert = cap_read.parse(sample(name))
    assert cap_read.parse(cap_write.to_xml(alert)) == alert


def test_it_round_trips_an_alert_built_in_code() -> None:
    alert = rich_alert()
    data = cap_write.to_xml(alert)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert '"Cellule de crise"' in data.decode("utf-8")
    back = cap_read.parse(data)
    assert back == alert
    assert back.infos[0].expires is not None
    assert back.infos[0].expires.utcoffset() == timedelta(hours=-5)


def test_it_writes_utc_as_minus_zero() -> None:
    data = cap_write.to_xml(rich_alert()).decode("utf-8")
    assert "<sent>2026-11-22T07:15:00-00:00</sent>" in data
    assert "<onset>2026-11-22T09:00:00+01:00</onset>" in data
    assert "Z<" not in data and "+00:00" not in data
    assert cap.format_time(datetime(2026, 1, 1, tzinfo=timezone(timedelta(0)))) == (
        "2026-01-01T00:00:00-00:00"
    )


def test_it_writes_numbers_without_exponent() -> None:
    data = cap_write.to_xml(rich_alert()).decode("utf-8")
    assert "<circle>0.00001,-0.0 0.0</circle>" in data
    assert "e-05" not in data


def test_it_refuses_to_write_a_naive_time() -> None:
    alert = replace(rich_alert(), sent=datetime(2026, 11, 22, 7, 15, 0))
    with pytest.raises(CapError) as caught:
        cap_write.to_xml(alert)
    assert caught.value.path == "alert.sent"


def test_it_refuses_to_write_an_open_polygon_or_a_fraction_of_second() -> None:
    alert = rich_alert()
    alert.infos[0].areas[0].polygons[0][-1] = (49.4, 5.9)
    with pytest.raises(CapError) as caught:
        cap_write.to_xml(alert)
    assert caught.value.path == "alert.info[0].area[0].polygon[0]"
    with pytest.raises(CapError) as caught:
        cap_write.to_xml(replace(rich_alert(), sent=datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)))
    assert caught.value.path == "alert.sent"


def test_it_refuses_to_write_a_character_xml_cannot_hold() -> None:
    alert = replace(rich_alert(), note="bip\x07")
    with pytest.raises(CapError) as caught:
        cap_write.to_xml(alert)
    assert caught.value.path == "alert.note"


# --- Areas and communes ---------------------------------------------------------------


def test_it_matches_the_north_moselle_polygon_to_the_moselle_communes() -> None:
    alert = cap_read.parse(sample(ALERT))
    assert cap_areas.match_communes(alert.infos[0].areas, COMMUNES) == MOSELLE


def test_a_polygon_around_audun_and_russange_matches_those_and_not_boulange() -> None:
    ring = [(49.465, 5.940), (49.465, 5.970), (49.492, 5.970), (49.492, 5.940), (49.465, 5.940)]
    matched = cap_areas.match_communes([area(polygons=[ring])], COMMUNES)
    assert matched == {"57038", "57602"}
    assert "57097" not in matched


def test_a_commune_centre_on_a_polygon_edge_counts_as_inside() -> None:
    # Audun-le-Tiche (49.472, 5.955) lies on the eastern edge, the side a ray cast
    # eastwards would miss.
    ring = [(49.470, 5.930), (49.475, 5.930), (49.475, 5.955), (49.470, 5.955), (49.470, 5.930)]
    assert cap_areas.match_communes([area(polygons=[ring])], COMMUNES) == {"57038"}


def test_it_matches_communes_by_circle() -> None:
    alert = cap_read.parse(sample(METEOLUX))
    assert cap_areas.match_communes(alert.infos[0].areas, COMMUNES) == {"57038", "57602"}
    wider = [area(circles=[CapCircle((49.4958, 5.9806), 5.0)])]
    assert cap_areas.match_communes(wider, COMMUNES) == {"57038", "57602", "57565", "54580"}


def test_it_matches_communes_by_emma_id_and_not_by_luxembourg() -> None:
    alert = cap_read.parse(sample(EMMA))
    moselle, luxembourg = alert.infos[0].areas
    assert cap_areas.match_communes([moselle], COMMUNES) == MOSELLE
    assert cap_areas.match_communes([luxembourg], COMMUNES) == set()
    assert cap_areas.match_communes(alert.infos[0].areas, COMMUNES) == MOSELLE


@pytest.mark.parametrize(
    ("geocode", "expected"),
    [
        (("INSEE", "54580"), {"54580"}),
        (("insee", "57038"), {"57038"}),
        (("insee", "57"), MOSELLE),
        (("DEPARTEMENT", "054"), MEURTHE_ET_MOSELLE),
        (("NUTS3", "FRF31"), MEURTHE_ET_MOSELLE),
        (("EMMA_ID", "FRF33"), MOSELLE),
        (("NUTS3", "LU000"), set()),
        (("INSEE", "57999"), set()),
        (("FIPS6", "57038"), set()),
    ],
)
def test_it_matches_communes_by_geocode(geocode: tuple[str, str], expected: set[str]) -> None:
    assert cap_areas.match_communes([area(geocodes=[CapValue(*geocode)])], COMMUNES) == expected


def test_it_accepts_communes_as_objects_tuples_and_mappings() -> None:
    areas = [area(geocodes=[CapValue("INSEE", "57038")])]
    as_object = SimpleNamespace(insee="57038", name="Audun-le-Tiche", lat=49.472, lon=5.955)
    as_tuple = ("57038", "Audun-le-Tiche", 49.472, 5.955)
    as_mapping = {"insee": "57038", "name": "Audun-le-Tiche", "lat": 49.472, "lon": 5.955}
    for commune in (as_object, as_tuple, as_mapping):
        assert cap_areas.match_communes(areas, [commune]) == {"57038"}
    with pytest.raises(TypeError):
        cap_areas.match_communes(areas, [("57038", "Audun-le-Tiche")])


def test_it_takes_a_region_table_for_other_territories() -> None:
    areas = [area(geocodes=[CapValue("NUTS3", "LU000")])]
    luxembourg = [Commune("LU-ESCH", "Esch-sur-Alzette", 49.4958, 5.9806)]
    assert cap_areas.match_communes(areas, luxembourg) == set()
    assert cap_areas.match_communes(areas, luxembourg, region_codes={"LU000": "LU"}) == {"LU-ESCH"}


def test_it_tells_when_the_areas_cover_the_whole_territory() -> None:
    both = [
        area(geocodes=[CapValue("EMMA_ID", "FRF33")]),
        area(geocodes=[CapValue("NUTS3", "FRF31")]),
    ]
    assert cap_areas.whole_territory(both, COMMUNES)
    assert not cap_areas.whole_territory(cap_read.parse(sample(ALERT)).infos[0].areas, COMMUNES)
    assert not cap_areas.whole_territory(both, [])


# --- Push mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "severity", "expected"),
    [
        ("Immediate", "Extreme", "high"),
        ("Immediate", "Severe", "high"),
        ("Expected", "Extreme", "high"),
        ("Expected", "Severe", "high"),
        ("Future", "Severe", "normal"),
        ("Immediate", "Moderate", "normal"),
        ("Future", "Moderate", "normal"),
        ("Immediate", "Minor", "low"),
        ("Expected", "Unknown", "low"),
        ("Unknown", "Extreme", "low"),
        ("Past", "Extreme", "very-low"),
        ("Past", "Minor", "very-low"),
    ],
)
def test_it_maps_cap_urgency_and_severity_to_push_urgency(
    urgency: str, severity: str, expected: str
) -> None:
    assert cap_areas.push_urgency(info(urgency, severity)) == expected


def test_it_maps_the_samples_to_push_urgency() -> None:
    assert cap_areas.push_urgency(cap_read.parse(sample(ALERT)).infos[0]) == "high"
    assert cap_areas.push_urgency(cap_read.parse(sample(METEOLUX)).infos[0]) == "normal"
    assert cap_areas.push_urgency(cap_read.parse(sample(CANCEL)).infos[0]) == "very-low"


def test_push_ttl_runs_until_expires() -> None:
    alert = cap_read.parse(sample(ALERT))
    assert cap_areas.push_ttl(alert.infos[0], alert.sent) == 27 * 3600 + 54 * 60 + 48


def test_push_ttl_is_a_day_without_expires_and_stays_within_bounds() -> None:
    now = datetime(2026, 11, 22, 7, 15, 0, tzinfo=UTC)
    assert cap_areas.push_ttl(info(), now) == 24 * 3600 == cap_areas.DEFAULT_TTL
    assert cap_areas.push_ttl(info(expires=now + timedelta(days=60)), now) == 28 * 24 * 3600
    assert cap_areas.push_ttl(info(expires=now + timedelta(seconds=10)), now) == 60
    assert cap_areas.push_ttl(info(expires=now - timedelta(hours=1)), now) == cap_areas.MIN_TTL


def test_push_ttl_wants_an_aware_now() -> None:
    with pytest.raises(ValueError):
        cap_areas.push_ttl(info(), datetime(2026, 11, 22, 7, 15, 0))
