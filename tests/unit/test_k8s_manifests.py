"""The Kubernetes manifests validate offline against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            docs.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


@pytest.mark.parametrize(("name", "doc"), _documents(), ids=[n for n, _ in _documents()])
def test_every_manifest_is_valid_kubernetes(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_workers_and_the_service_scale_with_an_hpa() -> None:
    targets = {
        doc["spec"]["scaleTargetRef"]["name"]
        for _, doc in _documents()
        if doc["kind"] == "HorizontalPodAutoscaler"
    }
    assert targets == {"locust-worker", "search-service"}
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in _documents()}
    assert ("Deployment", "locust-master") in kinds
