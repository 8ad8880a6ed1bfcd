"""Settings of the harness: one object, read from defaults < gameday.toml or
[tool.gameday] in pyproject.toml < GAMEDAY_* environment variables < flags.

    settings = StackSettings(state_dir=Path("/tmp/gd"))  # flags win over everything
    settings.proxy_port("redis")  # 22379: what clients are given, never the upstream

Ports stay below the kernel's ephemeral range (32768-60999) so an outgoing
connection can never take a proxy's port, and away from the standard ports so
a system instance of PostgreSQL or Redis does not collide with ours.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

EPHEMERAL_PORTS = range(32768, 61000)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    """Where the local stack lives and which loopback ports it uses."""

    model_config = SettingsConfigDict(
        env_prefix="GAMEDAY_",
        toml_file="gameday.toml",
        pyproject_toml_table_header=("tool", "gameday"),
        extra="ignore",
    )

    state_dir: Path = Field(default=PROJECT_ROOT / ".gameday", description="data, logs, pids")
    tools_dir: Path = Field(
        default=PROJECT_ROOT / ".gameday" / "tools", description="built Toxiproxy, OpenSearch jars"
    )
    host: str = "127.0.0.1"

    toxiproxy_port: int = 21474
    postgres_port: int = 21432
    postgres_proxy_port: int = 22432
    postgres_replica_port: int = 21433  # the streaming hot standby (`stack up --pg-replica`)
    postgres_replica_proxy_port: int = 22433
    pg_replica: bool = Field(default=False, description="start a streaming PostgreSQL replica")
    redis_port: int = 21379
    redis_proxy_port: int = 22379
    # `stack up --redis-sentinel`: a replica of redis, and three Sentinels (Sentinel i
    # listens on redis_sentinel_port + i, its proxy on redis_sentinel_proxy_port + i)
    redis_sentinel: bool = Field(default=False, description="Redis behind three Sentinels")
    redis_replica_port: int = 21380
    redis_replica_proxy_port: int = 22380
    redis_sentinel_port: int = 21381
    redis_sentinel_proxy_port: int = 22381
    # `stack up --pgbouncer`: PgBouncer in transaction mode between the service and
    # PostgreSQL; it reaches PostgreSQL through the `pgbouncer-postgres` proxy
    pgbouncer: bool = Field(default=False, description="PgBouncer in front of PostgreSQL")
    pgbouncer_port: int = 21434
    pgbouncer_proxy_port: int = 22434
    pgbouncer_upstream_proxy_port: int = 22435
    # `stack up --wal-archive`: PostgreSQL archives its WAL (base backups and restores:
    # `gameday stack backup|restore`)
    wal_archive: bool = Field(default=False, description="PostgreSQL archives WAL for PITR")
    rabbitmq_port: int = 21672
    rabbitmq_proxy_port: int = 22672
    rabbitmq_dist_port: int = 21673
    epmd_port: int = 21369
    # `stack up --rabbitmq-nodes 3`: a cluster of brokers, node i (0-based) on its own
    # loopback address 127.0.0.(13+i) with the ports above, each behind its own proxy
    # (rabbitmq_proxy_port + i); 1: the single node on `host`
    rabbitmq_nodes: int = Field(default=1, ge=1, le=5, description="RabbitMQ brokers")
    opensearch_port: int = 21200  # node i listens on opensearch_port + i
    opensearch_proxy_port: int = 22200  # node i's proxy is opensearch_proxy_port + i
    opensearch_transport_port: int = 21300  # node i: + i
    service_port: int = 28080  # the reference service (uvicorn), straight
    api_proxy_port: int = 22080  # the `api` proxy in front of the service
    prometheus_port: int = 29090  # scrapes the service's /metrics, evaluates deploy/prometheus
    # `gameday run`'s live metrics endpoint (the Locust master's), scraped by the stack's
    # Prometheus; 0: none (`gameday run --metrics-port`)
    harness_metrics_port: int = 29091
    service_workers: int = Field(default=2, ge=1)
    # The service serves HTTPS with a certificate from the stack's own CA (gameday.stack.tls).
    tls: bool = Field(default=False, description="`gameday stack up --tls`; GAMEDAY_TLS=1")
    search_nodes: int = Field(default=1, ge=1, le=5)
    opensearch_heap_mb: int = Field(default=1024, ge=256)

    db_user: str = "gameday"
    db_password: str = "gameday"
    db_name: str = "gameday"
    amqp_user: str = "gameday"
    amqp_password: str = "gameday"

    start_timeout_s: float = 180.0
    stop_timeout_s: float = 30.0

    @field_validator("rabbitmq_nodes")
    @classmethod
    def _odd_rabbitmq_nodes(cls, nodes: int) -> int:
        if nodes % 2 == 0:  # a quorum queue on 2 or 4 nodes survives no more loss than on 1 or 3
            raise ValueError(f"{nodes} brokers: use 1, 3 or 5 (a quorum needs an odd count)")
        return nodes

    @field_validator(
        "toxiproxy_port",
        "postgres_port",
        "postgres_proxy_port",
        "postgres_replica_port",
        "postgres_replica_proxy_port",
        "redis_port",
        "redis_proxy_port",
        "redis_replica_port",
        "redis_replica_proxy_port",
        "redis_sentinel_port",
        "redis_sentinel_proxy_port",
        "pgbouncer_port",
        "pgbouncer_proxy_port",
        "pgbouncer_upstream_proxy_port",
        "rabbitmq_port",
        "rabbitmq_proxy_port",
        "rabbitmq_dist_port",
        "epmd_port",
        "opensearch_port",
        "opensearch_proxy_port",
        "opensearch_transport_port",
        "service_port",
        "api_proxy_port",
        "prometheus_port",
        "harness_metrics_port",
    )
    @classmethod
    def _port_outside_ephemeral_range(cls, port: int, info: ValidationInfo) -> int:
        if port == 0 and info.field_name == "harness_metrics_port":
            return port  # no live metrics endpoint
        if not 1024 <= port < 65536 or port in EPHEMERAL_PORTS:
            raise ValueError(
                f"port {port} must be in 1024-32767 or 61000-65535 "
                "(outside the kernel's ephemeral range 32768-60999)"
            )
        return port

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: flags, then env, then gameday.toml, then pyproject.
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls),
            PyprojectTomlConfigSettingsSource(settings_cls),
        )

    # Paths inside the state dir -------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def tls_dir(self) -> Path:
        """The local CA (ca.pem: what clients verify with) and the service's certificate."""
        return self.state_dir / "tls"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    # Addresses that clients use: always the proxies ------------------------------
    def opensearch_proxy_ports(self) -> list[int]:
        return [self.opensearch_proxy_port + i for i in range(self.search_nodes)]

    @property
    def postgres_dsn(self) -> str:
        return (
            f"postgresql://{self.db_user}:{self.db_password}@{self.host}:"
            f"{self.postgres_proxy_port}/{self.db_name}"
        )

    @property
    def postgres_replica_dsn(self) -> str | None:
        """The replica's proxy, or None without `--pg-replica`."""
        if not self.pg_replica:
            return None
        return (
            f"postgresql://{self.db_user}:{self.db_password}@{self.host}:"
            f"{self.postgres_replica_proxy_port}/{self.db_name}"
        )

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_proxy_port}/0"

    @property
    def amqp_url(self) -> str:
        return (
            f"amqp://{self.amqp_user}:{self.amqp_password}@{self.host}:{self.rabbitmq_proxy_port}/"
        )

    @property
    def amqp_urls(self) -> list[str]:
        """One URL per broker's proxy (the single node's: `amqp_url`)."""
        return [
            f"amqp://{self.amqp_user}:{self.amqp_password}@{self.host}:"
            f"{self.rabbitmq_proxy_port + i}/"
            for i in range(self.rabbitmq_nodes)
        ]

    @property
    def opensearch_urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.opensearch_proxy_ports()]

    @property
    def service_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.service_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def toxiproxy_url(self) -> str:
        return f"http://{self.host}:{self.toxiproxy_port}"
