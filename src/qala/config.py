"""Configuration: ``QALA_*`` environment variables, an optional ``qala.toml``, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///qala.db"


class Settings(BaseSettings):
    """Every setting of a Qala server. Environment variables are ``QALA_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="QALA_", toml_file="qala.toml", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path/to/file.db (embedded default) or postgresql://user@host/db",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    # JSON-LD contexts
    contexts_dir: Path | None = Field(
        None,
        description="Folder of @context documents to preload; its index.json maps each URL "
        "(or URL prefix ending in '/') to a file (or sub-folder) in the folder.",
    )
    context_fetch_timeout: float = Field(5.0, description="Seconds to wait for a remote @context")
    context_cache_size: int = 256

    # Limits
    max_body_bytes: int = Field(8 * 1024 * 1024, description="Largest accepted request body")
    default_limit: int = 20
    max_limit: int = 1000
    max_batch_entities: int = 10_000
    max_query_terms: int = 64

    # Temporal history
    temporal_max_instances: int = Field(
        1000,
        description="Most instances per attribute in one temporal response; more gives 206 "
        "Partial Content with a Content-Range to continue from",
    )
    temporal_max_q_rows: int = Field(
        200_000,
        description="Most instances a temporal query's q or geo-query may test (they are "
        "evaluated on the history in the time window); more is 403 TooManyResults",
    )
    temporal_retention_days: int = Field(
        400,
        description="Days of raw history kept per tenant (tenant setting temporalRetentionDays "
        "overrides it); older instances are compacted into hourly aggregates. 0 keeps all",
    )
    temporal_compact_interval: float = Field(
        3600.0, description="Seconds between retention compactions in the server; 0: never"
    )
    indicators_compute_interval: float = Field(
        3600.0,
        description="Seconds between scheduled computations of every city's indicators in the "
        "server (each run: the current year and quarter and the last 12 months, only what "
        "changed); 0: never",
    )
    indicators_compute_after: float | None = Field(
        None,
        description="Seconds after start of the first scheduled indicator computation; "
        "default: one interval (qala demo: a few seconds, so a new demo gets its values)",
    )
    programme_verify_interval: float = Field(
        3600.0,
        description="Seconds between scheduled verifications of every programme's deliverables "
        "in the server (the first one interval after start); 0: never",
    )

    # Behaviour
    allow_local_endpoints: bool = Field(
        False,
        description="Allow notification endpoints and @context URLs on loopback/private "
        "addresses (tests and the demo set it; keep it off on public deployments).",
    )
    # Access control
    auth_disabled: bool = Field(
        False,
        description="Turn authentication off: every request acts as admin. Only for "
        "conformance testing and closed networks; the server warns about it at start and "
        "in /health.",
    )
    anonymous_role: str | None = Field(
        None,
        description="Role of requests without credentials (e.g. 'public' for open-data reads);"
        " unset: such requests get 401",
    )
    oidc_jwks: str | None = Field(
        None, description="JWKS for bearer JWTs: a file path or an https:// URL"
    )
    oidc_issuer: str | None = Field(None, description="Required 'iss' of bearer JWTs")
    oidc_audience: str | None = Field(None, description="Required 'aud' of bearer JWTs")
    oidc_client_id: str | None = Field(
        None, description="Read roles from resource_access.<client id> (default: any client)"
    )
    oidc_tenant_claim: str = Field("tenant", description="JWT claim holding the tenant")
    rate_limit: float = Field(
        200.0, description="Requests per second allowed to each key or user; 0 disables"
    )
    rate_burst: int = Field(400, description="Requests a key or user may make in a burst")
    rate_limit_keys: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Requests per second for particular API keys, by key id (e.g. a gateway or an "
            'ingestion service): JSON such as {"3f2a9c1b7d40": 5000}; the burst scales alike'
        ),
    )
    request_timeout: float = Field(
        60.0, description="Seconds after which a request is abandoned with 503"
    )
    # Notifications (subscriptions)
    notification_timeout: float = Field(
        10.0, description="Seconds to wait for a notification endpoint to answer"
    )
    notification_retry_base: float = Field(
        1.0, description="First retry delay after a failed notification; doubles each time"
    )
    notification_retry_max: float = Field(300.0, description="Longest retry delay (seconds)")
    notification_concurrency: int = Field(
        32, description="Notifications sent at once (each subscription sends in order)"
    )
    notification_poll_interval: float = Field(
        0.5,
        description="Seconds between checks for due notifications, retries, periodic "
        "subscriptions and subscription changes made by other server processes",
    )
    notification_max_entities: int = Field(
        100, description="Most entities in one notification (larger changes are split)"
    )
    # Device ingestion (IoT Agent role)
    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="MQTT broker for device measures: mqtt://[user:password@]host[:port] or "
        "mqtts://… (TLS); empty disables MQTT ingestion (HTTP ingestion still works)",
    )
    mqtt_client_id: str | None = Field(
        None,
        description="MQTT client id. Set it to keep a persistent broker session (measures "
        "published while Qala is down are delivered when it is back); unset: a random id "
        "and a clean session",
    )
    mqtt_session_expiry: int = Field(
        86_400, description="Seconds the broker keeps a named client's session while away"
    )
    mqtt_receive_maximum: int = Field(
        65_535, description="Unacknowledged QoS 1 messages the broker may send at once (1-65535)"
    )
    mqtt_keepalive: int = Field(30, description="MQTT keep-alive interval (seconds)")
    mqtt_reconnect_max: float = Field(
        30.0, description="Longest wait between MQTT reconnection attempts (seconds)"
    )
    mqtt_shared_group: str = Field(
        "",
        description="MQTT 5 shared-subscription group: set it (e.g. 'qala') when several "
        "server processes ingest from one broker, so that each message reaches only one",
    )
    iot_batch_max: int = Field(
        5000, description="Most device messages written in one hub transaction"
    )
    iot_batch_linger_ms: float = Field(
        2.0, description="Milliseconds to wait for more messages before writing a batch"
    )
    iot_simulate: str = Field(
        "",
        description="Tenants (comma-separated, or 'all') whose demo devices the server "
        "simulates in-process, writing through the hub (the demo without an MQTT broker)",
    )
    iot_simulate_rate: float = Field(
        20.0, description="Messages per second of the in-process simulation"
    )
    sqlite_synchronous: str = Field(
        "FULL", description="SQLite synchronous mode: FULL makes every commit durable"
    )
    # Dashboard
    dashboard_pmtiles: str | None = Field(
        None,
        description="A raster .pmtiles street basemap the dashboard's maps show under the city "
        "outlines (a file path); unset: the outlines and the hub's entities only",
    )
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from pydantic_settings import TomlConfigSettingsSource

        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``qala.toml``, with explicit overrides on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
