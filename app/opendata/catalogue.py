"""The DCAT-AP 3 catalogue of Eclor's open data (the one module over rdflib).

``build`` makes one RDF graph: the catalogue (publisher, contact point,
communes as spatial coverage, licence, themes), each published dataset
(keywords, theme, frequency, temporal coverage, ``conformsTo``, its CSV,
GeoJSON, Table Schema and live distributions) and each API as a
``dcat:DataService``. ``serialise`` writes it as JSON-LD, Turtle or RDF/XML:
the same graph in all three, which udata's and data.public.lu's DCAT
harvesters read.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from app.opendata.contrib import OpenDataset, Service

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority/"
N_ = str  # marks a label for extraction; the catalogue files keep French, pages translate it
THEMES = {  # EU data themes (the DCAT-AP theme vocabulary), French labels (translated where shown)
    "AGRI": N_("Agriculture, pêche, sylviculture et alimentation"),
    "ECON": N_("Économie et finances"),
    "EDUC": N_("Éducation, culture et sport"),
    "ENER": N_("Énergie"),
    "ENVI": N_("Environnement"),
    "GOVE": N_("Gouvernement et secteur public"),
    "HEAL": N_("Santé"),
    "INTR": N_("Questions internationales"),
    "JUST": N_("Justice, système juridique et sécurité publique"),
    "REGI": N_("Régions et villes"),
    "SOCI": N_("Population et société"),
    "TECH": N_("Science et technologie"),
    "TRAN": N_("Transports"),
}
FREQUENCIES = {
    "CONT": N_("En continu"),
    "HOURLY": N_("Toutes les heures"),
    "DAILY": N_("Quotidienne"),
    "WEEKLY": N_("Hebdomadaire"),
    "MONTHLY": N_("Mensuelle"),
    "ANNUAL": N_("Annuelle"),
    "IRREG": N_("Irrégulière"),
}
MEDIA = {
    "csv": ("CSV", "text/csv"),
    "geojson": ("GEOJSON", "application/geo+json"),
    "schema.json": ("JSON", "application/schema+json"),
    "live": ("JSON", "text/event-stream"),
    "ngsi-ld": ("JSON_LD", "application/ld+json"),
}
NGSI_ENTITIES = "/ngsi-ld/v1/entities"
FORMATS = {
    "jsonld": ("json-ld", "application/ld+json"),
    "ttl": ("turtle", "text/turtle"),
    "rdf": ("pretty-xml", "application/rdf+xml"),
}


@dataclass(frozen=True)
class Commune:
    insee: str  # the commune's key (app.territories.commune_key)
    name: str
    country: str = "FR"
    code: str = ""  # its official code (INSEE in France, LAU in Luxembourg); empty: the key


@dataclass(frozen=True)
class Freshness:
    generated_at: dt.datetime | None
    first_day: dt.date | None
    last_day: dt.date | None
    rows: int
    csv_bytes: int
    geojson_bytes: int


@dataclass(frozen=True)
class Context:
    base_url: str
    publisher: str
    contact_email: str
    licence: str
    licence_name: str
    communes: Sequence[Commune]
    issued: dt.date


def _lit(text: str) -> Literal:
    return Literal(text, lang="fr")


def _now(moment: dt.datetime) -> Literal:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return Literal(
        moment.astimezone(dt.UTC).replace(microsecond=0).isoformat(), datatype=XSD.dateTime
    )


def _as_written(text: str) -> str:
    return text


def describe(
    dataset: OpenDataset, fresh: Freshness | None, *, translate: Callable[[str], str] = _as_written
) -> str:
    """The dataset's description with its freshness, suppression and CNIL's three criteria answered.

    The catalogue publishes it in French (the default); the page passes the
    reader's ``gettext`` for the labels (the dataset's own texts stay as published).
    """
    _ = translate
    parts = [dataset.description]
    promised = (
        f"{dataset.expected_minutes} min"
        if dataset.expected_minutes < 120
        else f"{dataset.expected_minutes // 60} h"
    )
    actual = (
        fresh.generated_at.strftime("%Y-%m-%d %H:%M UTC")
        if fresh and fresh.generated_at
        else _("pas encore")
    )
    parts.append(
        _("Fraîcheur attendue : au plus %(promised)s. Dernière génération : %(actual)s.")
        % {"promised": promised, "actual": actual}
    )
    if dataset.suppression:
        parts.append(_("Secret statistique :") + " " + dataset.suppression)
    parts.append(
        _("Anonymisation (critères de la CNIL) — individualisation :")
        + " "
        + dataset.cnil.singling_out
        + " "
        + _("Corrélation :")
        + " "
        + dataset.cnil.linkability
        + " "
        + _("Inférence :")
        + " "
        + dataset.cnil.inference
    )
    return "\n\n".join(parts)


class _Builder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.g = Graph()
        for prefix, ns in (
            ("dcat", DCAT),
            ("dct", DCTERMS),
            ("foaf", FOAF),
            ("vcard", VCARD),
            ("skos", SKOS),
        ):
            self.g.bind(prefix, ns)
        self.base = ctx.base_url.rstrip("/")
        self.publisher = URIRef(f"{self.base}/data#publisher")
        self.contact = URIRef(f"{self.base}/data#contact")
        self.licence = URIRef(ctx.licence)
        # A French commune is named by its INSEE code's address at geo.api.gouv.fr; another's by
        # its official code, on the catalogue's own address.
        self.spatial = [
            URIRef(f"https://geo.api.gouv.fr/communes/{c.insee}")
            if c.country == "FR"
            else URIRef(f"{self.base}/data#commune-{c.code or c.insee}")
            for c in ctx.communes
        ]

    def url(self, path: str) -> URIRef:
        return URIRef(self.base + path)

    def resource(self, path: str) -> URIRef:
        """A web address typed ``rdfs:Resource`` (what DCAT-AP's shapes ask of access and endpoint URLs)."""
        uri = self.url(path)
        self.add(uri, RDF.type, RDFS.Resource)
        return uri

    def add(self, s: Any, p: Any, o: Any) -> None:
        self.g.add((s, p, o))

    def concept(
        self, uri: URIRef, label: str, scheme: URIRef, scheme_title: str, kind: URIRef
    ) -> URIRef:
        self.add(uri, RDF.type, kind)
        if kind != SKOS.Concept:
            self.add(uri, RDF.type, SKOS.Concept)
        self.add(uri, SKOS.prefLabel, _lit(label))
        self.add(uri, SKOS.inScheme, scheme)
        self.add(scheme, RDF.type, SKOS.ConceptScheme)
        self.add(scheme, DCTERMS.title, _lit(scheme_title))
        return uri

    def shared(self) -> None:
        ctx = self.ctx
        self.add(self.publisher, RDF.type, FOAF.Agent)
        self.add(self.publisher, FOAF.name, _lit(ctx.publisher))
        self.add(
            self.publisher,
            DCTERMS.type,
            self.concept(
                URIRef("http://purl.org/adms/publishertype/LocalAuthority"),
                "Autorité locale",
                URIRef("http://purl.org/adms/publishertype/1.0"),
                "Types d'éditeurs (ADMS)",
                SKOS.Concept,
            ),
        )
        self.add(self.contact, RDF.type, VCARD.Organization)
        self.add(self.contact, RDF.type, VCARD.Kind)
        self.add(self.contact, VCARD.fn, _lit(ctx.publisher))
        self.add(self.contact, VCARD.hasEmail, URIRef(f"mailto:{ctx.contact_email}"))
        self.add(self.contact, VCARD.hasURL, self.url("/data"))
        self.add(self.licence, RDF.type, DCTERMS.LicenseDocument)
        self.add(self.licence, DCTERMS.title, _lit(ctx.licence_name))
        for uri, commune in zip(self.spatial, ctx.communes, strict=True):
            self.add(uri, RDF.type, DCTERMS.Location)
            self.add(uri, SKOS.prefLabel, _lit(commune.name))
            self.add(uri, DCTERMS.identifier, Literal(commune.code or commune.insee))

    def distribution(
        self,
        dataset_uri: URIRef,
        slug: str,
        fmt: str,
        title: str,
        *,
        size: int | None,
        modified: dt.datetime | None,
        conforms: URIRef | None = None,
        service: URIRef | None = None,
        path: str | None = None,
    ) -> None:
        if path is None:
            path = f"/data/{slug}/live" if fmt == "live" else f"/data/{slug}.{fmt}"
        dist = self.url(f"/data/{slug}#{fmt.replace('.', '-')}")
        code, media = MEDIA[fmt]
        self.add(dataset_uri, DCAT.distribution, dist)
        self.add(dist, RDF.type, DCAT.Distribution)
        self.add(dist, DCTERMS.title, _lit(title))
        self.add(dist, DCAT.accessURL, self.resource(path))
        if fmt not in ("live", "ngsi-ld"):
            self.add(dist, DCAT.downloadURL, self.resource(path))
        file_type = URIRef(f"{EU}file-type/{code}")
        self.add(dist, DCTERMS.format, file_type)
        self.add(file_type, RDF.type, DCTERMS.MediaTypeOrExtent)
        media_type = URIRef(f"https://www.iana.org/assignments/media-types/{media}")
        self.add(dist, DCAT.mediaType, media_type)
        self.add(media_type, RDF.type, DCTERMS.MediaType)
        self.add(dist, DCTERMS.license, self.licence)
        if size is not None:
            self.add(dist, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger))
        if modified is not None:
            self.add(dist, DCTERMS.modified, _now(modified))
        if conforms is not None:
            self.add(dist, DCTERMS.conformsTo, conforms)
        if service is not None:
            self.add(dist, DCAT.accessService, service)

    def standard(self, url: str, title: str) -> URIRef:
        uri = URIRef(url)
        self.add(uri, RDF.type, DCTERMS.Standard)
        self.add(uri, DCTERMS.title, _lit(title))
        return uri

    def dataset(
        self,
        dataset: OpenDataset,
        fresh: Freshness | None,
        live_service: URIRef,
        twin_service: URIRef,
    ) -> URIRef:
        uri = self.url(f"/data/{dataset.slug}#dataset")
        page = self.url(f"/data/{dataset.slug}")
        add = self.add
        add(uri, RDF.type, DCAT.Dataset)
        add(uri, DCTERMS.identifier, Literal(uri))
        add(uri, DCTERMS.title, _lit(dataset.title))
        add(uri, DCTERMS.description, _lit(describe(dataset, fresh)))
        add(uri, DCTERMS.publisher, self.publisher)
        add(uri, DCAT.contactPoint, self.contact)
        add(uri, DCAT.landingPage, page)
        add(page, RDF.type, FOAF.Document)
        for keyword in dataset.keywords:
            add(uri, DCAT.keyword, _lit(keyword))
        theme = URIRef(f"{EU}data-theme/{dataset.theme}")
        add(
            uri,
            DCAT.theme,
            self.concept(
                theme,
                THEMES.get(dataset.theme, dataset.theme),
                URIRef(f"{EU}data-theme"),
                "Thèmes des données (UE)",
                SKOS.Concept,
            ),
        )
        freq = URIRef(f"{EU}frequency/{dataset.frequency}")
        add(
            uri,
            DCTERMS.accrualPeriodicity,
            self.concept(
                freq,
                FREQUENCIES.get(dataset.frequency, dataset.frequency),
                URIRef(f"{EU}frequency"),
                "Fréquences (UE)",
                DCTERMS.Frequency,
            ),
        )
        add(
            uri,
            DCAT.temporalResolution,
            Literal(f"PT{dataset.expected_minutes}M", datatype=XSD.duration),
        )
        for place in self.spatial:
            add(uri, DCTERMS.spatial, place)
        if fresh and fresh.first_day and fresh.last_day:
            period = self.url(f"/data/{dataset.slug}#periode")
            add(uri, DCTERMS.temporal, period)
            add(period, RDF.type, DCTERMS.PeriodOfTime)
            add(period, DCAT.startDate, Literal(fresh.first_day.isoformat(), datatype=XSD.date))
            add(period, DCAT.endDate, Literal(fresh.last_day.isoformat(), datatype=XSD.date))
        if fresh and fresh.generated_at:
            add(uri, DCTERMS.modified, _now(fresh.generated_at))
        for url, title in dataset.conforms_to:
            add(uri, DCTERMS.conformsTo, self.standard(url, title))
        schema = self.standard(
            f"{self.base}/data/{dataset.slug}.schema.json", f"Table Schema de « {dataset.title} »"
        )
        generated = fresh.generated_at if fresh else None
        self.distribution(
            uri,
            dataset.slug,
            "csv",
            "CSV (UTF-8)",
            size=fresh.csv_bytes if fresh else None,
            modified=generated,
            conforms=schema,
        )
        self.distribution(
            uri, dataset.slug, "schema.json", "Table Schema (JSON)", size=None, modified=None
        )
        if dataset.geometry is not None:
            self.distribution(
                uri,
                dataset.slug,
                "geojson",
                "GeoJSON",
                size=fresh.geojson_bytes if fresh else None,
                modified=generated,
            )
        if dataset.live_kinds:
            self.distribution(
                uri,
                dataset.slug,
                "live",
                "Flux en direct (Server-Sent Events)",
                size=None,
                modified=None,
                service=live_service,
            )
        if dataset.twin:
            self.distribution(
                uri,
                dataset.slug,
                "ngsi-ld",
                f"Jumeau numérique NGSI-LD (entités {dataset.twin})",
                size=None,
                modified=None,
                service=twin_service,
                path=f"{NGSI_ENTITIES}?type={dataset.twin}",
            )
        return uri

    def service(self, service: Service, dataset_uris: dict[str, URIRef]) -> URIRef:
        uri = self.url(f"/data#api-{service.key}")
        self.add(uri, RDF.type, DCAT.DataService)
        self.add(uri, DCTERMS.title, _lit(service.title))
        self.add(uri, DCTERMS.description, _lit(service.description))
        self.add(uri, DCAT.endpointURL, self.resource(service.endpoint))
        self.add(uri, DCAT.endpointDescription, self.resource(service.description_url))
        self.add(uri, DCTERMS.conformsTo, self.standard(service.conforms_to, service.title))
        self.add(uri, DCTERMS.publisher, self.publisher)
        self.add(uri, DCAT.contactPoint, self.contact)
        self.add(uri, DCTERMS.license, self.licence)
        self.add(
            uri,
            DCTERMS.accessRights,
            self.concept(
                URIRef(f"{EU}access-right/PUBLIC"),
                "Public",
                URIRef(f"{EU}access-right"),
                "Droits d'accès (UE)",
                DCTERMS.RightsStatement,
            ),
        )
        for slug in service.serves:
            if slug in dataset_uris:
                self.add(uri, DCAT.servesDataset, dataset_uris[slug])
        return uri


def build(
    ctx: Context,
    datasets: Sequence[OpenDataset],
    fresh: dict[str, Freshness],
    services: Sequence[Service],
) -> Graph:
    b = _Builder(ctx)
    b.shared()
    catalogue = b.url("/data/catalog")
    add = b.add
    add(catalogue, RDF.type, DCAT.Catalog)
    add(catalogue, DCTERMS.title, _lit(f"Données ouvertes — {ctx.publisher}"))
    add(
        catalogue,
        DCTERMS.description,
        _lit(
            "Les données du territoire publiées par le territoire : signalements, éclairage public, capteurs, "
            "covoiturage, commerces et alertes, en fichiers mis à jour au moins tous les quarts d'heure et en "
            "flux en direct, sans clé d'API. Les données sont anonymisées dès leur construction."
        ),
    )
    add(catalogue, DCTERMS.publisher, b.publisher)
    add(catalogue, DCAT.contactPoint, b.contact)
    home = b.url("/data")
    add(catalogue, FOAF.homepage, home)
    add(home, RDF.type, FOAF.Document)
    language = URIRef(f"{EU}language/FRA")
    add(catalogue, DCTERMS.language, language)
    add(language, RDF.type, DCTERMS.LinguisticSystem)
    add(catalogue, DCTERMS.license, b.licence)
    add(catalogue, DCTERMS.issued, Literal(ctx.issued.isoformat(), datatype=XSD.date))
    modified = [f.generated_at for f in fresh.values() if f.generated_at]
    if modified:
        add(catalogue, DCTERMS.modified, _now(max(modified)))
    add(catalogue, DCAT.themeTaxonomy, URIRef(f"{EU}data-theme"))
    for place in b.spatial:
        add(catalogue, DCTERMS.spatial, place)
    live = b.url("/data#api-live")
    twin = next(
        (b.url(f"/data#api-{s.key}") for s in services if s.endpoint == NGSI_ENTITIES), live
    )
    uris: dict[str, URIRef] = {}
    for dataset in datasets:
        uris[dataset.slug] = b.dataset(dataset, fresh.get(dataset.slug), live, twin)
        add(catalogue, DCAT.dataset, uris[dataset.slug])
    live_datasets = tuple(d.slug for d in datasets if d.live_kinds)
    all_services = [
        Service(
            "live",
            "Flux en direct des données ouvertes",
            "Un flux Server-Sent Events par jeu de données qui change : chaque changement, "
            "anonymisé comme le fichier, dès qu'il est enregistré.",
            "/data",
            "/data",
            "https://html.spec.whatwg.org/multipage/server-sent-events.html",
            live_datasets,
        )
    ]
    twins = tuple(d.slug for d in datasets if d.twin)
    for service in services:
        if service.endpoint == NGSI_ENTITIES:  # the NGSI-LD API serves every dataset's twin
            service = replace(service, serves=tuple(dict.fromkeys(service.serves + twins)))
        all_services.append(service)
    for service in all_services:
        add(catalogue, DCAT.service, b.service(service, uris))
    return b.g


def serialise(graph: Graph, fmt: str) -> tuple[bytes, str]:
    """The graph in ``jsonld``, ``ttl`` or ``rdf``: (bytes, media type)."""
    name, media = FORMATS[fmt]
    data = graph.serialize(format=name, encoding="utf-8")
    return data, media


def parse(data: bytes, fmt: str) -> Graph:
    """Read a serialisation back (tests and harvest checks)."""
    with warnings.catch_warnings():
        # rdflib's JSON-LD parser goes through its own deprecated ConjunctiveGraph whatever the caller does.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"rdflib\.")
        return Graph().parse(data=data, format=FORMATS[fmt][0].replace("pretty-xml", "xml"))
