"""Eclor's settings: one class, read from environment variables prefixed ``ECLOR_``.

Every field is documented in README.md ("Configuration"). In development a
secret key is created once under ``var/`` so that the web app and the worker
share it; in production (``ECLOR_ENV=production``) a missing secret key is a
startup error.
"""

from __future__ import annotations

import os
import secrets
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class OIDCProvider(BaseModel):
    """One OpenID Connect provider (FranceConnect, the authority's own identity provider...).

    ``issuer`` is enough when the provider publishes
    ``{issuer}/.well-known/openid-configuration``; ``discovery_url`` overrides
    where that document is read. ``role`` is the Eclor role given to accounts
    created through this provider.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    label: str = Field(min_length=1, max_length=80)
    issuer: str = ""
    discovery_url: str = ""
    client_id: str = Field(min_length=1)
    client_secret: str = ""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    role: Literal["resident", "merchant", "staff", "admin"] = "resident"
    token_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    # The provider sits on the authority's private network: its own host (the one of
    # discovery_url, else of issuer), and no other, may be reached on a private address
    # (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, loopback; never link-local). Off, every
    # request to the provider goes to public Internet addresses only (app.outbound).
    private_network: bool = False
    # The territories (slugs) whose hosts offer it, e.g. a commune's own staff directory; empty:
    # every territory's. An account it creates with a role other than resident works for the
    # territory of the host it signed in on.
    territories: list[str] = Field(default_factory=list)

    def offered_on(self, territory: str) -> bool:
        return not self.territories or territory in self.territories

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def host(self) -> str:
        """The host the provider is configured at (of its discovery document's URL)."""
        return (urlsplit(self.metadata_url).hostname or "").lower()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECLOR_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "[::1]"])
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks).
    # Empty: none, every client is the address that connected (rate limits count each one apart).
    trusted_proxies: list[str] = Field(default_factory=list)
    media_dir: Path | None = None
    default_locale: str = "fr"
    # Where the "Code source" link of every page leads (AGPL-3.0 §13). The default
    # is the archive of the running code that Eclor serves itself.
    source_url: str = "/source"

    # MQTT: unset URL means "start the embedded broker in-process".
    mqtt_url: str = ""
    mqtt_prefix: str = "eclor"
    mqtt_embedded_port: int = 18830
    mqtt_max_packet_bytes: int = Field(default=1 << 20, ge=1024, le=256 << 20)  # embedded broker
    # Devices' and the relay's MQTT passwords derive from this (else from the secret key); see
    # app/mqtt_auth.py and `eclor mqtt`. The embedded broker lets no one in without them
    # unless mqtt_anonymous is set (a broker bound to loopback for a quick trial).
    mqtt_secret: str = ""
    mqtt_anonymous: bool = False
    # TLS for the embedded broker's listener (PEM files): clients then use mqtts://.
    mqtt_tls_cert: Path | None = None
    mqtt_tls_key: Path | None = None
    # LoRaWAN: the broker a ChirpStack v4 MQTT integration publishes to (Eclor's or ChirpStack's,
    # with its credentials in the URL) and the topic filter of its uplink events. Unset URL: off.
    lorawan_mqtt_url: str = ""
    lorawan_topic: str = Field(default="application/+/device/+/event/up", min_length=1)

    @property
    def mqtt_key(self) -> str:
        """The key MQTT passwords derive from."""
        from app.mqtt_auth import instance_key

        return instance_key(self.secret_key, self.mqtt_secret)

    def mqtt_client_url(self, username: str) -> str:
        """The broker's URL with ``username``'s derived password (unless the URL carries its own)."""
        from app.mqtt_auth import derived_password, with_credentials

        url = self.mqtt_url or f"mqtt://127.0.0.1:{self.mqtt_embedded_port}"
        return with_credentials(url, username, derived_password(self.mqtt_key, username))

    # Web Push (VAPID). An unset subject is derived in development (see resolve_vapid_subject)
    # and refused in production.
    vapid_private_key: str = ""
    vapid_subject: str = ""
    # Outbound requests (push endpoints) reach public addresses only (app.outbound). Loopback
    # (a local push service for tests) is allowed outside production unless this says False;
    # production refuses to start with it True.
    outbound_allow_loopback: bool | None = None
    # The carpool proof registry (API v3.1): where proofs of carpooling are sent (POST {url}/journeys)
    # with the operator's token. Unset URL: proofs are kept, not sent.
    carpool_registry_url: str = ""
    carpool_registry_token: str = ""
    # How often the worker looks for proofs made while no registry URL was set, to send them.
    carpool_proof_sweep_minutes: float = 15.0
    # The lighting relay's backend: "mqtt" (DESIGN.md's topics) or "talq" (a TALQ gateway's HTTPS
    # API at talq_gateway_url; see docs/design.md, TALQ). talq_cms_address is Eclor's TALQ address (a UUID;
    # unset: derived from base_url). talq_ca_file verifies the gateway's certificate (PEM), and
    # talq_client_cert/talq_client_key are sent when the gateway asks for a client certificate.
    # talq_gateway_private_network lets the gateway's host (and no other) be on a private address.
    lighting_backend: Literal["mqtt", "talq"] = "mqtt"
    talq_gateway_url: str = ""
    talq_gateway_token: str = ""
    talq_cms_address: str = ""
    talq_ca_file: Path | None = None
    talq_client_cert: Path | None = None
    talq_client_key: Path | None = None
    talq_timeout_s: float = Field(default=10.0, gt=0, le=120)
    talq_gateway_private_network: bool = False
    # Solidarity transport: what the beneficiary contributes and what the volunteer driver is paid
    # back per kilometre (cents), and the SMS gateway for reminders (POST JSON {to, text} with the
    # token as a bearer; unset: the social worker's phone-call list only).
    solidarity_contribution_cents_per_km: int = Field(default=25, ge=10, le=50)
    solidarity_allowance_cents_per_km: int = Field(default=33, ge=0, le=100)
    solidarity_sms_url: str = ""
    solidarity_sms_token: str = ""

    # E-mail: unset SMTP host means "write messages under var/mail/".
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    mail_from: str = "Eclor <no-reply@eclor.example>"

    # Map tiles for Leaflet (the authority may host its own tile server).
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap"
    # The operations centre draws a layer of more features than this from its own tiles (server-side
    # clusters, ``app.ops.tiles``) rather than whole; a tile gives its features up to
    # ``ops_tile_features`` and clusters beyond.
    ops_tiles_above: int = 5000
    ops_tile_features: int = 256

    # Sessions.
    session_idle_minutes: int = 60 * 24 * 7
    session_absolute_days: int = 30

    # Accounts: password reset links, OpenID Connect providers (a JSON list, see OIDCProvider).
    password_reset_minutes: int = 30
    oidc_providers: list[OIDCProvider] = Field(default_factory=list)

    # Worker.
    worker_lease_seconds: int = 60
    worker_poll_seconds: float = 1.0
    worker_batch: int = 20

    # Retention (app.retention, run by the worker): days kept after a row is finished; 0 keeps forever.
    retention_commands_days: int = 90  # finished lighting commands (monthly counts kept)
    retention_deliveries_days: int = 90  # finished push deliveries (monthly counts kept)
    retention_jobs_days: int = 90  # done and failed jobs (monthly counts kept)
    retention_alarms_days: int = 365  # cleared alarms
    retention_estimates_days: int = 90  # waste-centre wait estimates (forecasts read 8 weeks)
    retention_daily_days: int = (
        400  # per-light days and per-sensor hours (energy per group and month is kept)
    )
    retention_mail_days: int = 30  # e-mail files under var/mail (no SMTP configured)
    retention_batch: int = 500  # rows per transaction; the write lock is released between batches
    retention_every_minutes: float = (
        60.0  # how often the worker runs retention (expired sessions included)
    )
    # Photo files no row names (a crash between writing and committing) are removed by the worker
    # once older than the grace period (app.photo_sweep).
    photo_sweep_every_minutes: float = 60.0
    photo_orphan_grace_hours: float = 24.0

    # Database pool and overload: a request waits at most db_pool_timeout_s for a connection,
    # db_lock_timeout_ms for a lock (SQLite's write lock, a PostgreSQL row or table lock) and
    # http_queue_seconds for a slot (at most http_max_concurrency at once per process; 0: the pool's
    # size plus its overflow), then gets 503 with Retry-After: http_retry_after_s.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_s: float = Field(default=3.0, gt=0)
    db_lock_timeout_ms: int = Field(default=15000, ge=0)
    http_max_concurrency: int = Field(default=0, ge=0)
    http_queue_seconds: float = Field(default=2.0, ge=0)
    http_retry_after_s: int = Field(default=2, ge=1)

    # Uploads.
    max_upload_bytes: int = 10 * 1024 * 1024

    # Open data (/data): licence of every dataset, who publishes, who answers, how often snapshots are made.
    opendata_licence: str = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    opendata_licence_name: str = "Licence Ouverte 2.0 (Etalab)"
    opendata_publisher: str = "Communauté de communes Pays-Haut Val d'Alzette"
    opendata_contact_email: str = "opendata@eclor.example"
    opendata_snapshot_minutes: int = Field(default=15, ge=1, le=15)
    opendata_requests_per_minute: int = 300  # per address, on /data and its files and streams

    @field_validator("var_dir", "media_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        return value

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def outbound_allows_loopback(self) -> bool:
        """Whether push endpoints on loopback (127.0.0.1, localhost) are accepted and reached."""
        if self.outbound_allow_loopback is None:
            return not self.production
        return self.outbound_allow_loopback

    @property
    def talq_cms_address_resolved(self) -> str:
        """Eclor's address as a TALQ CMS: the setting, else a UUID derived from ``base_url``."""
        if self.talq_cms_address:
            return str(uuid.UUID(self.talq_cms_address))
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.base_url.rstrip("/") + "/api/talq"))

    @property
    def max_concurrency(self) -> int:
        return self.http_max_concurrency or (self.db_pool_size + self.db_max_overflow)

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'eclor.db'}"

    @property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or (self.var_dir / "media")

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    def prepare(self) -> Settings:
        """Create ``var/`` folders and resolve the secret key; raise SettingsError if unusable."""
        if self.production:
            if not self.secret_key or len(self.secret_key) < 32:
                raise SettingsError(
                    "ECLOR_SECRET_KEY must be set (at least 32 characters) when ECLOR_ENV=production. "
                    "Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            if not self.database_url:
                raise SettingsError("ECLOR_DATABASE_URL must be set when ECLOR_ENV=production.")
            if self.lighting_backend == "talq" and not self.talq_gateway_url.startswith("https://"):
                raise SettingsError(
                    "ECLOR_TALQ_GATEWAY_URL must be an https:// address when ECLOR_ENV=production "
                    "and ECLOR_LIGHTING_BACKEND=talq."
                )
            if self.outbound_allow_loopback:
                raise SettingsError(
                    "ECLOR_OUTBOUND_ALLOW_LOOPBACK cannot be true when ECLOR_ENV=production: "
                    "push endpoints must be public Internet addresses."
                )
        if self.lighting_backend == "talq" and not self.talq_gateway_url:
            raise SettingsError("ECLOR_LIGHTING_BACKEND=talq needs ECLOR_TALQ_GATEWAY_URL.")
        if self.talq_cms_address:
            try:
                uuid.UUID(self.talq_cms_address)
            except ValueError:
                raise SettingsError("ECLOR_TALQ_CMS_ADDRESS must be a UUID.") from None
        self.vapid_subject = resolve_vapid_subject(self)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.resolved_media_dir.mkdir(parents=True, exist_ok=True)
        if not self.secret_key:
            self.secret_key = _dev_secret(self.var_dir)
        return self


#: Last resort in development when neither ECLOR_BASE_URL nor ECLOR_MAIL_FROM names a
#: public domain: the site of the authority the demo territory belongs to.
DEVELOPMENT_VAPID_SUBJECT = "https://www.ccphva.com/"


def resolve_vapid_subject(settings: Settings) -> str:
    """The VAPID subject push services will see, checked as push services check it.

    Production: ``ECLOR_VAPID_SUBJECT`` must be set and valid (SettingsError
    otherwise). Development and tests: a valid subject is kept; otherwise one
    is derived from ``ECLOR_BASE_URL`` (an https site), then the address of
    ``ECLOR_MAIL_FROM``, then :data:`DEVELOPMENT_VAPID_SUBJECT`, so that pushes
    leave a fresh install.
    """
    from email.utils import parseaddr

    from app.push import InvalidVapidConfig, validate_vapid_subject

    given = settings.vapid_subject.strip()
    try:
        if given:
            return validate_vapid_subject(given)
        if settings.production:
            raise InvalidVapidConfig("ECLOR_VAPID_SUBJECT is not set.")
    except InvalidVapidConfig as exc:
        if settings.production:
            raise SettingsError(
                f"ECLOR_VAPID_SUBJECT must be a real contact when ECLOR_ENV=production ({exc}). "
                "Set it to mailto:someone@your-domain.fr or https://your-domain.fr: push services "
                "refuse placeholders."
            ) from exc
    candidates = []
    if settings.base_url.startswith("https://"):
        candidates.append(settings.base_url.rstrip("/"))
    address = parseaddr(settings.mail_from)[1]
    if address:
        candidates.append(f"mailto:{address}")
    for candidate in candidates:
        try:
            return validate_vapid_subject(candidate)
        except InvalidVapidConfig:
            continue
    return DEVELOPMENT_VAPID_SUBJECT


def _dev_secret(var_dir: Path) -> str:
    """The development secret key, created once under var/ and shared by web and worker."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        try:
            # Two processes starting at once: the first link wins, both read it.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings().prepare()
