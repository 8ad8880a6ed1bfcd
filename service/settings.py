"""Settings of the reference service: one pydantic-settings class per part, all
read from ``SERVICE_*`` environment variables, gathered in :class:`Settings`.

    settings = Settings.from_env()            # what the app factory does
    settings.cache.ttl_s                      # SERVICE_CACHE_TTL_S, default 30

What the local stack exports to point the service at its proxies is the stack's own
(gameday/stack/service_env.py): the service reads only its environment.

Pool sizes default to what a 2-core machine runs well with two uvicorn workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.secret_files import SecretSettings, dsn_with
from service.tenants.keys import KID_PATTERN, KeySet, load_keyset, single_keyset

DEV_JWT_KEY = "gameday-local-development-signing-key-not-a-secret"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)


class PostgresSettings(SecretSettings):
    """``SERVICE_POSTGRES_DSN``, ``SERVICE_POSTGRES_SCHEMA`` (tests use their own).

    Secrets: ``SERVICE_POSTGRES_DSN_FILE`` or ``SERVICE_POSTGRES_PASSWORD(_FILE)``, which
    replaces the DSN's password. ``SERVICE_POSTGRES_SSLMODE=require`` (or ``verify-full``
    with ``SERVICE_POSTGRES_SSLROOTCERT``) makes asyncpg refuse a connection without TLS.
    """

    model_config = _config("SERVICE_POSTGRES_")

    dsn: str = "postgresql://gameday:gameday@127.0.0.1:22432/gameday"
    schema_name: str = Field(
        default="public", alias="SERVICE_POSTGRES_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"
    )
    pool_min: int = Field(default=1, ge=1)
    pool_max: int = Field(default=5, ge=1)
    command_timeout_s: float = Field(default=10.0, gt=0)  # start-up: connect, migrations
    statement_timeout_s: float = Field(default=2.0, gt=0)  # every request's statement
    # Waiting for a pooled connection. A request's PostgreSQL time is at most this plus the
    # statement timeout: 0.4 + 2 keeps a write inside postgres-partition's 2.5 s fail-fast
    # bound (at 1 s a write waited 1 s for a connection, then 2 s on its statement). A pool
    # busy for longer is saturated: fail fast, don't queue (the bulkhead).
    acquire_timeout_s: float = Field(default=0.4, gt=0)
    # Comma separated standbys (``SERVICE_POSTGRES_REPLICA_DSNS``): reads go there first,
    # and a promoted one is found again as the primary (service/deps/postgres_router.py).
    replica_dsns: str = ""
    # Behind PgBouncer in transaction pooling mode (``SERVICE_POSTGRES_TRANSACTION_POOLING``,
    # service/deps/transaction_pooling.py): no prepared-statement cache, no session state
    # (each transaction sets its search_path and statement_timeout with SET LOCAL), and the
    # work that needs a session (migrations, retention's advisory lock) on
    # ``SERVICE_POSTGRES_MIGRATION_DSN``, straight to PostgreSQL.
    transaction_pooling: bool = False
    migration_dsn: str = ""
    password: str | None = Field(default=None, repr=False)
    sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = None
    sslrootcert: Path | None = None

    @model_validator(mode="after")
    def _password_and_tls_into_dsn(self) -> PostgresSettings:
        """The password and TLS options apply to every node: a replica is promoted to be
        the primary, so it must be reached exactly as securely."""
        query = {
            "sslmode": self.sslmode,
            "sslrootcert": str(self.sslrootcert) if self.sslrootcert else None,
        }
        self.dsn = dsn_with(self.dsn, password=self.password, query=query)
        if self.migration_dsn:
            self.migration_dsn = dsn_with(self.migration_dsn, password=self.password, query=query)
        elif self.transaction_pooling:
            raise ValueError(
                "SERVICE_POSTGRES_TRANSACTION_POOLING needs SERVICE_POSTGRES_MIGRATION_DSN, "
                "a DSN straight to PostgreSQL (migrations and retention need a session)"
            )
        self.replica_dsns = ",".join(
            dsn_with(d, password=self.password, query=query) for d in self.replica_dsn_list
        )
        return self

    @property
    def session_dsn(self) -> str:
        """Where work that needs a session goes: migrations, retention's lock."""
        return self.migration_dsn or self.dsn

    @property
    def replica_dsn_list(self) -> list[str]:
        return [d.strip() for d in self.replica_dsns.split(",") if d.strip()]


class RedisSettings(BaseSettings):
    """``SERVICE_REDIS_URL``; every key starts with ``SERVICE_REDIS_PREFIX``.

    ``SERVICE_REDIS_SENTINELS``: comma separated ``host:port`` of Sentinels; when set,
    the primary of ``SERVICE_REDIS_SENTINEL_MASTER`` is asked of them for every new
    connection (the URL then gives only the database number), and a failover is
    followed without a restart (service/deps/redis.py).
    """

    model_config = _config("SERVICE_REDIS_")

    url: str = "redis://127.0.0.1:22379/0"
    prefix: str = "gd:"
    max_connections: int = Field(default=20, ge=1)
    timeout_s: float = Field(default=0.1, gt=0)
    sentinels: str = ""
    sentinel_master: str = Field(default="gameday", min_length=1)

    @model_validator(mode="after")
    def _sentinels_are_addresses(self) -> RedisSettings:
        self.sentinel_addresses  # noqa: B018 - raises on a bad one, at start-up
        return self

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``SERVICE_REDIS_SENTINELS`` as (host, port) pairs; a bad one is an error."""
        out: list[tuple[str, int]] = []
        for item in (s.strip() for s in self.sentinels.split(",")):
            if not item:
                continue
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(
                    f"SERVICE_REDIS_SENTINELS: {item!r} is not host:port "
                    "(e.g. 127.0.0.1:22381,127.0.0.1:22382)"
                )
            out.append((host, int(port)))
        return out


class AmqpSettings(SecretSettings):
    """``SERVICE_AMQP_URL`` (or ``_FILE``); ``SERVICE_AMQP_PASSWORD(_FILE)`` replaces its
    password; queue names derive from ``SERVICE_AMQP_QUEUE``."""

    model_config = _config("SERVICE_AMQP_")

    url: str = "amqp://gameday:gameday@127.0.0.1:22672/"
    # Every broker of a cluster, comma separated (`stack up --rabbitmq-nodes 3`): the
    # relay and the indexer connect to the first that answers and move to the next
    # when theirs is lost. Empty: ``url`` alone.
    urls: str = ""
    # `quorum` on a cluster (replicated by Raft); a queue's type is fixed when first
    # declared, so the single node keeps its classic queues.
    queue_type: Literal["classic", "quorum"] = "classic"
    exchange: str = "documents"
    queue: str = "documents.index"
    publish_timeout_s: float = Field(default=2.0, gt=0)  # waiting for the confirms
    password: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _password_into_url(self) -> AmqpSettings:
        self.url = dsn_with(self.url, password=self.password)
        return self

    @property
    def dlq(self) -> str:
        return f"{self.queue}.dlq"

    @property
    def all_urls(self) -> list[str]:
        """``urls`` (each with ``password`` put in), else ``[url]``."""
        listed = [u.strip() for u in self.urls.split(",") if u.strip()]
        return [dsn_with(u, password=self.password) for u in listed] or [self.url]

    @property
    def queue_arguments(self) -> dict[str, str]:
        return {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}


class OpenSearchSettings(BaseSettings):
    """``SERVICE_OPENSEARCH_HOSTS`` is comma separated: one URL per node (proxy)."""

    model_config = _config("SERVICE_OPENSEARCH_")

    hosts: str = "http://127.0.0.1:22200"
    alias: str = "documents"  # the name every query uses; the index behind it is <alias>-v1
    refresh_interval: str = Field(default="1s", pattern=r"^(-1|\d+(\.\d+)?(ms|s|m))$")
    replicas: int = Field(default=0, ge=0)
    shards: int = Field(default=1, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)  # the client's own (indexer bulks)
    search_timeout_s: float = Field(default=0.8, gt=0)  # a search, retries included
    max_connections: int = Field(default=10, ge=1)  # per host, per worker

    @property
    def host_list(self) -> list[str]:
        return [h.strip() for h in self.hosts.split(",") if h.strip()]

    @property
    def refresh_interval_s(self) -> float:
        """``1s`` -> 1.0, ``200ms`` -> 0.2, ``-1`` (refresh off) -> 0.0."""
        text = self.refresh_interval.strip()
        if text.endswith("ms"):
            return float(text[:-2]) / 1000
        if text.endswith("s"):
            return float(text[:-1])
        if text.endswith("m"):
            return float(text[:-1]) * 60
        return max(0.0, float(text))

    @property
    def index_v1(self) -> str:
        return f"{self.alias}-v1"


class AuthSettings(SecretSettings):
    """The keys that sign and check HS256 tokens (``gameday token`` uses the same).

    ``SERVICE_AUTH_KEYS_FILE``: a key set with key ids and rotation (service.tenants.keys);
    otherwise ``SERVICE_AUTH_JWT_KEY`` or ``SERVICE_AUTH_JWT_KEY_FILE`` under the key id
    ``SERVICE_AUTH_JWT_KID``. Tokens must carry ``aud`` = ``SERVICE_AUTH_JWT_AUDIENCE``.
    """

    model_config = _config("SERVICE_AUTH_")

    profile: Literal["dev", "staging", "production"] = Field(default="dev", alias="SERVICE_PROFILE")
    jwt_key: str = Field(default=DEV_JWT_KEY, min_length=32, repr=False)
    jwt_kid: str = Field(default="dev", pattern=KID_PATTERN)
    keys_file: Path | None = None
    jwt_audience: str = Field(default="gameday-service", min_length=1)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_leeway_s: int = Field(default=5, ge=0)
    _keyset: KeySet | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _no_dev_key_outside_dev(self) -> AuthSettings:
        if self.keys_file is not None:
            self._keyset = load_keyset(self.keys_file)
        else:
            self._keyset = single_keyset(self.jwt_kid, self.jwt_key)
        if self.profile != "dev" and DEV_JWT_KEY in self._keyset.secrets():
            raise ValueError(
                f"SERVICE_AUTH_JWT_KEY is the development key but SERVICE_PROFILE={self.profile}; "
                "set a secret key of at least 32 characters"
            )
        return self

    @property
    def keyset(self) -> KeySet:
        assert self._keyset is not None  # set by the validator
        return self._keyset


class CacheSettings(BaseSettings):
    """``SERVICE_CACHE_TTL_S`` for both tiers; L1 holds at most ``SERVICE_CACHE_L1_SIZE``."""

    model_config = _config("SERVICE_CACHE_")

    enabled: bool = True
    ttl_s: float = Field(default=30.0, gt=0)
    l1_size: int = Field(default=1024, ge=1)
    l1_ttl_s: float = Field(default=5.0, gt=0)


class OutboxSettings(BaseSettings):
    """``SERVICE_OUTBOX_ENABLED=false`` switches to the naive publish-after-commit design."""

    model_config = _config("SERVICE_OUTBOX_")

    enabled: bool = True
    batch_size: int = Field(default=500, ge=1)
    poll_interval_s: float = Field(default=0.5, gt=0)


class IndexerSettings(BaseSettings):
    """The queue consumer: batches, retries with backoff, dead-letters after N attempts."""

    model_config = _config("SERVICE_INDEXER_")

    batch_size: int = Field(default=500, ge=1)
    concurrency: int = Field(default=2, ge=1, le=16)
    prefetch: int = Field(default=64, ge=1)
    heartbeat_file: Path | None = None  # written every 2s; the stack's health check reads it
    batch_wait_s: float = Field(default=0.05, ge=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_s: float = Field(default=0.2, ge=0)
    backoff_max_s: float = Field(default=5.0, ge=0)


class ResilienceSettings(BaseSettings):
    """Breakers, retries and fallbacks, the same numbers for every dependency.

    ``SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S=3`` shortens the open state (tests do).
    ``SERVICE_RESILIENCE_TESTING=true`` removes the retry sleeps.
    """

    model_config = _config("SERVICE_RESILIENCE_")

    breaker_window_size: int = Field(default=10, ge=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    breaker_open_duration_s: float = Field(default=30.0, gt=0)
    breaker_half_open_calls: int = Field(default=5, ge=1)
    retry_max: int = Field(default=3, ge=0)
    retry_base_s: float = Field(default=0.1, ge=0)
    retry_max_s: float = Field(default=5.0, ge=0)
    retry_budget_ratio: float = Field(default=0.1, ge=0, le=1)
    retry_budget_window_s: float = Field(default=10.0, gt=0)
    retry_budget_min: int = Field(default=3, ge=0)
    stale_max_age_s: float = Field(default=300.0, ge=0)  # stale-cache fallback of search
    testing: bool = False


class ObservabilitySettings(BaseSettings):
    """``SERVICE_LOG_FORMAT=json`` (default) or ``text``; ``SERVICE_LOG_LEVEL``;
    ``SERVICE_LOG_ACCESS_SAMPLE`` and ``SERVICE_LOG_ACCESS_SLOW_MS`` (service.logs)."""

    model_config = _config("SERVICE_LOG_")

    format: Literal["json", "text"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Share of the fast successful requests that get an access line (1.0: every one);
    # errors (>= 400) and requests slower than access_slow_ms are always logged.
    access_sample: float = Field(default=1.0, ge=0, le=1)
    access_slow_ms: float = Field(default=500.0, ge=0)


class HttpSettings(BaseSettings):
    """Request limits (service/security/request_limits.py), each answered with a problem
    body naming it: ``SERVICE_HTTP_MAX_BODY_BYTES`` (413 beyond; bulk has its own),
    ``SERVICE_HTTP_MAX_HEADER_BYTES`` (431), ``SERVICE_HTTP_MAX_QUERY_BYTES`` (414),
    ``SERVICE_HTTP_BODY_TIMEOUT_S`` (408: the whole body must arrive within it) and
    ``SERVICE_HTTP_REQUEST_TIMEOUT_S`` (504: the request is cancelled)."""

    model_config = _config("SERVICE_HTTP_")

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_bulk_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_query_bytes: int = Field(default=4096, ge=256)
    body_timeout_s: float = Field(default=10.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)


RedisDownPolicy = Literal["open", "closed"]


class RateLimitSettings(BaseSettings):
    """Token buckets per tenant and per caller (API key or token subject), in Redis.

        SERVICE_RATELIMIT_USER_RATE_RPS=50 SERVICE_RATELIMIT_USER_BURST=100
        SERVICE_RATELIMIT_TENANT_OVERRIDES='{"tenant-noisy": [5, 10]}'   # rate_rps, burst

    The defaults sit far above what one tenant of the local stack can send (the whole
    service saturates below 1,000 rps on 2 cores): they stop a runaway client, not load
    tests. ``SERVICE_RATELIMIT_REDIS_DOWN_READS`` / ``_WRITES``: ``open`` lets requests
    through while Redis is unreachable, ``closed`` answers 503.
    """

    model_config = _config("SERVICE_RATELIMIT_")

    enabled: bool = True
    tenant_rate_rps: float = Field(default=5000.0, gt=0)
    tenant_burst: int = Field(default=10000, ge=1)
    admin_rate_rps: float = Field(default=2000.0, gt=0)
    admin_burst: int = Field(default=4000, ge=1)
    user_rate_rps: float = Field(default=2000.0, gt=0)
    user_burst: int = Field(default=4000, ge=1)
    read_only_rate_rps: float = Field(default=1000.0, gt=0)
    read_only_burst: int = Field(default=2000, ge=1)
    tenant_overrides: dict[str, tuple[float, int]] = Field(default_factory=dict)
    redis_down_reads: RedisDownPolicy = "open"
    redis_down_writes: RedisDownPolicy = "closed"
    # A write that fails closed waits longer for its round trip than a read that fails
    # open (SERVICE_REDIS_TIMEOUT_S): a new connection to a slow Redis takes several
    # round trips, and at 40 ms each the 100 ms timeout refused writes Redis would take.
    redis_write_timeout_s: float = Field(default=0.5, gt=0)
    # One Redis round trip takes up to this many tokens for the worker to spend locally
    # (service/security/leases.py): 1 makes it one round trip per request again.
    lease_max_tokens: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _overrides_positive(self) -> RateLimitSettings:
        for tenant, (rate, burst) in self.tenant_overrides.items():
            if rate <= 0 or burst < 1:
                raise ValueError(
                    f"SERVICE_RATELIMIT_TENANT_OVERRIDES[{tenant!r}] must be "
                    f"[rate_rps > 0, burst >= 1], not [{rate}, {burst}]"
                )
        return self

    def role_quota(self, role: str) -> tuple[float, int]:
        """(rate_rps, burst) of one role: ``admin``, ``user`` or ``read-only``."""
        name = role.replace("-", "_")
        return float(getattr(self, f"{name}_rate_rps")), int(getattr(self, f"{name}_burst"))


class SecuritySettings(BaseSettings):
    """Response headers and CORS.

    ``SERVICE_SECURITY_CORS_ORIGINS=https://a.example,https://b.example`` (empty by
    default: no CORS headers at all). ``SERVICE_SECURITY_HSTS_MAX_AGE_S=0`` drops HSTS.
    """

    model_config = _config("SERVICE_SECURITY_")

    hsts_max_age_s: int = Field(default=31_536_000, ge=0)
    referrer_policy: str = "no-referrer"
    cors_origins: str = ""
    cors_methods: str = "GET,POST,PUT,PATCH,DELETE"
    cors_headers: str = "Authorization,Content-Type,X-API-Key,X-Request-ID"
    cors_max_age_s: int = Field(default=600, ge=0)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @staticmethod
    def split(value: str) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()]


class TracingSettings(BaseSettings):
    """OpenTelemetry, off by default: ``SERVICE_TRACING_EXPORTER=none|console|otlp``.

    SERVICE_TRACING_EXPORTER=otlp SERVICE_TRACING_OTLP_ENDPOINT=http://127.0.0.1:4318/v1/traces
    SERVICE_TRACING_EXPORTER=console SERVICE_TRACING_CONSOLE_FILE=/tmp/spans.jsonl  # one per line
    """

    model_config = _config("SERVICE_TRACING_")

    exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    console_file: Path | None = None  # stdout when unset
    sample_ratio: float = Field(default=1.0, ge=0, le=1)  # of root spans; children follow


class ShutdownSettings(BaseSettings):
    """On SIGTERM: ``SERVICE_SHUTDOWN_GRACE_S`` for in-flight requests (uvicorn's
    ``--timeout-graceful-shutdown``), then ``SERVICE_SHUTDOWN_DRAIN_S`` for the outbox."""

    model_config = _config("SERVICE_SHUTDOWN_")

    grace_s: int = Field(default=10, ge=0)
    drain_s: float = Field(default=5.0, ge=0)


class MetricsSettings(BaseSettings):
    """``SERVICE_METRICS_QUEUE_DEPTH_INTERVAL_S``: how often a worker asks RabbitMQ."""

    model_config = _config("SERVICE_METRICS_")

    queue_depth_interval_s: float = Field(default=5.0, gt=0)


class RetentionSettings(BaseSettings):
    """The retention job (service.retention): every ``SERVICE_RETENTION_INTERVAL_S`` one
    worker (an advisory lock) deletes documents older than their tenant's retention
    period, or ``SERVICE_RETENTION_DEFAULT_DAYS`` (none: keep) for tenants without one."""

    model_config = _config("SERVICE_RETENTION_")

    enabled: bool = True
    interval_s: float = Field(default=3600.0, gt=0)
    default_days: int | None = Field(default=None, gt=0)
    batch_size: int = Field(default=1000, ge=1)


class Settings(BaseModel):
    """Every part, built from the environment once by the app factory and injected."""

    postgres: PostgresSettings
    redis: RedisSettings
    amqp: AmqpSettings
    opensearch: OpenSearchSettings
    auth: AuthSettings
    cache: CacheSettings
    outbox: OutboxSettings
    indexer: IndexerSettings
    http: HttpSettings
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    logging: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            postgres=PostgresSettings(),
            redis=RedisSettings(),
            amqp=AmqpSettings(),
            opensearch=OpenSearchSettings(),
            auth=AuthSettings(),
            cache=CacheSettings(),
            outbox=OutboxSettings(),
            indexer=IndexerSettings(),
            http=HttpSettings(),
            resilience=ResilienceSettings(),
            logging=ObservabilitySettings(),
        )
