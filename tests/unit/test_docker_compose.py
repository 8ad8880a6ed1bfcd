"""No Docker engine runs here, so the compose file is checked offline: it must
satisfy the Compose Specification schema and route every dependency through
toxiproxy, as the local stack does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gameday.settings import StackSettings

ROOT = Path(__file__).resolve().parents[2]
DEPENDENCIES = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672, "opensearch": 9200}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_satisfies_the_compose_specification_schema() -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.schema.json").read_text())
    # The schema names its draft with a URI jsonschema does not know; say it outright.
    jsonschema.Draft201909Validator(schema).validate(_compose())


def test_only_toxiproxy_publishes_ports_and_only_on_loopback() -> None:
    services = _compose()["services"]
    assert set(services) >= set(DEPENDENCIES) | {"toxiproxy"}
    for name in DEPENDENCIES:
        assert "ports" not in services[name], f"{name} is reachable without its proxy"
    for mapping in services["toxiproxy"]["ports"]:
        assert mapping.startswith("127.0.0.1:"), mapping


def test_toxiproxy_fronts_every_dependency_on_the_local_stacks_proxy_ports() -> None:
    compose = _compose()
    config = json.loads((ROOT / "deploy" / "toxiproxy.json").read_text())
    proxies = {p["name"]: p for p in config}
    fields = StackSettings.model_fields  # the defaults, whatever the environment says
    expected_listen = {name: fields[f"{name}_proxy_port"].default for name in DEPENDENCIES}
    published = {m.split(":")[1] for m in compose["services"]["toxiproxy"]["ports"]}
    for name, port in DEPENDENCIES.items():
        assert proxies[name]["upstream"] == f"{name}:{port}"
        listen_port = int(proxies[name]["listen"].rsplit(":", 1)[1])
        assert listen_port == expected_listen[name]
        assert str(listen_port) in published
    mounted = compose["services"]["toxiproxy"]["volumes"][0]
    assert mounted.startswith("./deploy/toxiproxy.json:")


def test_the_service_and_indexer_reach_every_dependency_through_toxiproxy() -> None:
    services = _compose()["services"]
    for name in ("service", "indexer"):
        env = services[name]["environment"]
        for key in (
            "SERVICE_POSTGRES_DSN",
            "SERVICE_REDIS_URL",
            "SERVICE_AMQP_URL",
            "SERVICE_OPENSEARCH_HOSTS",
        ):
            assert "@toxiproxy:" in env[key] or "//toxiproxy:" in env[key], (name, key)


def test_locust_master_and_scalable_workers_run_the_projects_locustfile() -> None:
    services = _compose()["services"]
    master, worker = services["locust-master"], services["locust-worker"]
    assert "--master" in master["command"] and "--worker" in worker["command"]
    for service in (master, worker):  # gameday's plugin first, then the reference's file
        files = service["command"][service["command"].index("-f") + 1]
        assert files == "gameday/plugin/locustfile.py,scenarios/locustfile.py"
    assert "ports" not in worker, "workers must scale with --scale, so no fixed host ports"
    compose = _compose()
    for service in (master, worker):
        # the run's LoadConfig is a file named on the command line, never the environment
        path = service["command"][service["command"].index("--gameday-config") + 1]
        (mount,) = [c for c in service["configs"] if c["target"] == path]
        assert "environment" not in service or not any(
            "GAMEDAY_LOAD_CONFIG" in key for key in service["environment"]
        )
    config = json.loads((ROOT / compose["configs"][mount["source"]]["file"]).read_text())
    assert config["scenario"] and config["target_rps"] > 0
