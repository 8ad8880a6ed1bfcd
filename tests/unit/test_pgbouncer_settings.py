"""PgBouncer in the harness (component, ini, proxies, service environment, restart of a
killed opt-in part) and the service's transaction pooling settings (pure logic, no
servers; tests/integration/stack/test_pgbouncer.py runs them for real)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gameday.settings import StackSettings
from gameday.stack import supervisor
from gameday.stack.pgbouncer import QUERY_WAIT_TIMEOUT_S, Pgbouncer
from gameday.stack.registry import build_components
from gameday.stack.service_env import service_env
from service.deps.transaction_pooling import pinned_connection_class, pool_options
from service.settings import PostgresSettings

DIRECT = "postgresql://gameday:gameday@127.0.0.1:22432/gameday"
POOLED = "postgresql://gameday:gameday@127.0.0.1:22434/gameday"


def test_pgbouncer_is_a_component_only_with_the_flag_and_starts_after_postgres() -> None:
    assert "pgbouncer" not in [c.name for c in build_components(StackSettings())]
    names = [c.name for c in build_components(StackSettings(pgbouncer=True))]
    assert names.index("pgbouncer") > names.index("postgres")
    assert names.index("pgbouncer") < names.index("service")


def test_pgbouncer_listens_behind_its_proxy_and_reaches_postgres_through_another() -> None:
    bouncer = Pgbouncer(StackSettings(pgbouncer=True))
    proxies = {p.name: (p.listen, p.upstream) for p in bouncer.proxies()}
    assert proxies == {
        "pgbouncer": ("127.0.0.1:22434", "127.0.0.1:21434"),
        "pgbouncer-postgres": ("127.0.0.1:22435", "127.0.0.1:21432"),
    }
    assert bouncer.proxy_port == 22434  # what clients are given


def test_the_ini_pools_transactions_and_refuses_session_parameters(tmp_path: Path) -> None:
    ini = Pgbouncer(StackSettings(state_dir=tmp_path, pgbouncer=True)).ini_text()
    lines = [line.strip() for line in ini.splitlines()]
    assert "pool_mode = transaction" in lines
    assert f"query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}" in lines
    assert QUERY_WAIT_TIMEOUT_S < PostgresSettings().statement_timeout_s
    assert "ignore_startup_parameters =" in lines  # search_path refused, never ignored
    assert "gameday = host=127.0.0.1 port=22435 dbname=gameday" in lines  # the upstream proxy


def test_the_service_goes_through_pgbouncer_and_migrates_straight_only_with_the_flag() -> None:
    plain = service_env(StackSettings())
    assert plain["SERVICE_POSTGRES_DSN"] == DIRECT
    assert "SERVICE_POSTGRES_TRANSACTION_POOLING" not in plain
    assert "SERVICE_POSTGRES_MIGRATION_DSN" not in plain
    pooled = service_env(StackSettings(pgbouncer=True))
    assert pooled["SERVICE_POSTGRES_DSN"] == POOLED
    assert pooled["SERVICE_POSTGRES_MIGRATION_DSN"] == DIRECT
    assert pooled["SERVICE_POSTGRES_TRANSACTION_POOLING"] == "1"


def test_an_up_naming_a_killed_opt_in_part_starts_it_again(tmp_path: Path) -> None:
    """restart_component after kill_component: the part is recorded, no longer running."""
    recorded = StackSettings(state_dir=tmp_path, pgbouncer=True)
    plain = StackSettings(state_dir=tmp_path)
    kept = supervisor._keep_running_opt_ins(plain, recorded, [], ["pgbouncer"])
    assert kept.pgbouncer is True
    assert supervisor._keep_running_opt_ins(plain, recorded, [], None).pgbouncer is False
    not_recorded = supervisor._keep_running_opt_ins(plain, plain, [], ["pgbouncer"])
    assert not_recorded.pgbouncer is False


def test_transaction_pooling_without_a_direct_dsn_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="SERVICE_POSTGRES_MIGRATION_DSN"):
        PostgresSettings(dsn=POOLED, transaction_pooling=True)


def test_the_migration_dsn_gets_the_password_like_the_pool_dsn() -> None:
    settings = PostgresSettings(
        dsn="postgresql://gameday@127.0.0.1:22434/gameday",
        migration_dsn="postgresql://gameday@127.0.0.1:22432/gameday",
        transaction_pooling=True,
        password="s3cret",
    )
    assert ":s3cret@" in settings.migration_dsn and ":s3cret@" in settings.dsn
    assert settings.session_dsn == settings.migration_dsn
    assert PostgresSettings(dsn=DIRECT).session_dsn == DIRECT  # no pooler: the pool's


def test_a_pooled_connection_pins_schema_and_timeout_and_caches_no_statement() -> None:
    settings = PostgresSettings(
        dsn=POOLED,
        migration_dsn=DIRECT,
        transaction_pooling=True,
        SERVICE_POSTGRES_SCHEMA="t1a2b3",
    )
    options = pool_options(settings)
    assert options["statement_cache_size"] == 0
    assert set(options["server_settings"]) == {"application_name"}  # no session state
    pinned = options["connection_class"]
    assert (
        pinned.pin_sql == 'SET LOCAL search_path TO "t1a2b3"; SET LOCAL statement_timeout = 2000;'
    )
    assert pinned.deadline_s == 1.6  # 2 s, less the 0.4 s pool wait before it
    assert pinned_connection_class("public", 500, 0.3).deadline_s == 0.3
