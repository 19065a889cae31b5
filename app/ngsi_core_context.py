"""The terms of the NGSI-LD core ``@context`` (ETSI GS CIM 009, Annex B), kept in Eclor.

The core context is fetched by no one: every NGSI-LD implementation knows it.
The copy in ``../shared/standards/ngsi-ld/`` is empty, so the terms are written
here from the normative Annex B of the specification (ETSI GS CIM 009; the
clause as published for V1.9.1, a superset of the V1.8 terms Eclor serves
under). Only the term → IRI mapping matters to Eclor (expanding the names of a
query, compacting an answer); ``@type``/``@container`` coercions are left out.
"""

from __future__ import annotations

from typing import Final

URL: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
URLS: Final = frozenset(
    {
        URL,
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
    }
)
NGSI_LD: Final = "https://uri.etsi.org/ngsi-ld/"
GEOJSON: Final = "https://purl.org/geojson/vocab#"
VOCAB: Final = "https://uri.etsi.org/ngsi-ld/default-context/"
"""``@vocab``: where a term no context defines expands to."""

# Terms whose IRI is ``ngsi-ld:<same name>``.
_SAME = """
Attribute AttributeList ContextSourceIdentity ContextSourceNotification
ContextSourceRegistration Date DateTime EntityType EntityTypeInfo EntityTypeList
ExecutionResultDetails GeoProperty JsonProperty LanguageProperty ListProperty
ListRelationship Notification Property Relationship Snapshot SnapshotNotification
Subscription TemporalProperty Time VocabProperty accept aggrParams aggrMethods
aggrPeriodDuration attributeList attributeName attributeNames attributeTypes
attributes attrs avg cacheDuration collation contextSourceAlias contextSourceExtras
contextSourceInfo contextSourceTimeAt contextSourceUptime cooldown createdAt csf data
datasetId deletedAt detail distinctCount endAt endTimeAt endpoint entities entity
entityCount entityId entityList error errors expandValues expiresAt format geoQ
geoproperty georel idPattern information instanceId isActive join jsonKeys jsons lang
lastFailure lastNotification lastSuccess lastUsedAt linkedMaps localOnly location
management managementInterval max min mode modifiedAt notification notificationTrigger
notifiedAt notifierInfo notUpdated observationInterval observationSpace observedAt
omit operations operationSpace orderBy ordering pick problemDetails propertyNames q
reason receiverInfo refreshRate registrationId registrationName relationshipNames
resultStatus scope scopeQ showChanges snapshotId snapshotLifetime snapshotPriority
snapshotQueries snapshotQueriesDetails snapshotStatus snapshotTemporalQueries
snapshotTemporalQueriesDetails startAt status stddev subscriptionId subscriptionName
success sum sumsq sysAttrs temporalQ tenant throttling timeAt timeInterval timeout
timeproperty timerel timesFailed timesSent totalCount triggerReason typeList typeName
typeNames unchanged unitCode updated uri watchedAttributes
"""
# Terms whose IRI is ``ngsi-ld:<another name>``.
_RENAMED = {
    "containedBy": "isContainedBy",
    "dataset": "hasDataset",
    "entityMap": "hasEntityMap",
    "joinLevel": "hasJoinLevel",
    "json": "hasJSON",
    "key": "hasKey",
    "languageMap": "hasLanguageMap",
    "languageMaps": "hasLanguageMaps",
    "object": "hasObject",
    "objectList": "hasObjectList",
    "objectLists": "hasObjectLists",
    "objects": "hasObjects",
    "objectType": "hasObjectType",
    "previousJson": "hasPreviousJson",
    "previousLanguageMap": "hasPreviousLanguageMap",
    "previousObject": "hasPreviousObject",
    "previousObjectList": "hasPreviousObjectList",
    "previousValue": "hasPreviousValue",
    "previousValueList": "hasPreviousValueList",
    "previousVocab": "hasPreviousVocab",
    "value": "hasValue",
    "valueList": "hasValueList",
    "valueLists": "hasValueLists",
    "values": "hasValues",
    "valueType": "hasValueType",
    "vocab": "hasVocab",
    "vocabs": "hasVocabs",
}
_GEOJSON = """
Feature FeatureCollection GeometryCollection LineString MultiLineString MultiPoint
MultiPolygon Point Polygon bbox coordinates features geometry properties
"""
_OTHER = {
    "attributeCount": VOCAB + "attributeCount",
    "attributeDetails": VOCAB + "attributeDetails",
    "description": "http://purl.org/dc/terms/description",
    "title": "http://purl.org/dc/terms/title",
    "langString": "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString",
    "ngsildproof": NGSI_LD + "ngsildproof",
}

TERMS: Final[dict[str, str]] = {
    **{name: NGSI_LD + name for name in _SAME.split()},
    **{name: NGSI_LD + iri for name, iri in _RENAMED.items()},
    **{name: GEOJSON + name for name in _GEOJSON.split()},
    **_OTHER,
}
"""Every term of the core context and the IRI it expands to."""

KEYWORDS: Final = {"id": "@id", "type": "@type"}
"""The two terms the core context aliases to JSON-LD keywords."""
