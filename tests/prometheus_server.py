"""A private Prometheus server (Debian's `prometheus`, the one `gameday stack install`
installs) for tests that need no stack: given scrape targets and alert rules, on a given
port, scraping and evaluating every second; ready once /-/ready answers; stopped after."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.private_server import wait_until_it_answers


@dataclass
class PrivatePrometheus:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def private_prometheus(
    port: int, folder: Path, *, targets: dict[str, str], rules: list[dict[str, Any]]
) -> Iterator[PrivatePrometheus]:
    """`targets`: job -> host:port scraped at /metrics; `rules`: alerting rules of one group."""
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is missing: run `make bootstrap` (Debian package prometheus)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": rules}]}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "500ms"},
        "rule_files": [str(folder / "rules.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [address]}]}
            for job, address in targets.items()
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()  # the child has its own descriptor
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_it_answers(
            f"{url}/-/ready", process, what=f"private prometheus on port {port} ({folder})",
            timeout_s=30,
        )  # fmt: skip
        yield PrivatePrometheus(url=url, process=process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
