"""Synthetic documents: Zipf-distributed words (the vocabulary the load scenarios query),
titles and bodies of realistic length, tags, dates over two years, and some subjects
with personal data. The same seed gives the same corpus, byte for byte.

    plan = SeedPlan(docs=10_000, tenants=5, seed=42)
    for tenant, batch in generate_batches(plan):   # batches of at most 500
        ...
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gameday.corpus import Vocabulary

BULK_LIMIT = 500
TAGS = [
    "billing", "security", "release", "incident", "howto", "api", "mobile", "search",
    "storage", "network", "onboarding", "legal", "pricing", "roadmap", "support", "sales",
    "design", "research", "hiring", "finance",
]  # fmt: skip
FIRST_NAMES = ["ana", "bo", "chen", "dara", "eli", "femi", "gus", "hana", "ivo", "jun"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def tenant_names(tenants: int) -> list[str]:
    """The tenants the load scenarios use too: tenant-1 .. tenant-N."""
    return [f"tenant-{i}" for i in range(1, tenants + 1)]


@dataclass(frozen=True)
class SeedPlan:
    docs: int
    tenants: int
    seed: int = 42
    batch_size: int = BULK_LIMIT
    vocabulary_size: int = 5000

    def __post_init__(self) -> None:
        if self.docs < 0 or self.tenants < 1:
            raise ValueError("docs must be >= 0 and tenants >= 1")
        if not 1 <= self.batch_size <= BULK_LIMIT:
            raise ValueError(f"batch size must be within 1..{BULK_LIMIT}")


def _tenant_weights(tenants: int) -> list[float]:
    # A few heavy tenants and a long tail, like the load mix.
    return [1.0 / rank**0.8 for rank in range(1, tenants + 1)]


def make_document(rng: random.Random, vocab: Vocabulary, index: int) -> dict[str, Any]:
    title_words = vocab.sample(rng, k=rng.randint(3, 9))
    paragraphs = []
    for _ in range(rng.randint(1, 4)):
        words = vocab.sample(rng, k=rng.randint(20, 80))
        paragraphs.append(" ".join(words).capitalize() + ".")
    status = rng.choices(["published", "draft", "archived"], weights=[80, 15, 5])[0]
    doc: dict[str, Any] = {
        "title": " ".join(title_words).capitalize(),
        "body": "\n\n".join(paragraphs),
        "tags": sorted(set(rng.sample(TAGS, k=rng.randint(1, 3)))),
        "status": status,
        "published_at": (EPOCH - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))).isoformat(),
        "metadata": {"source": "gameday-seed", "n": index},
    }
    if rng.random() < 0.1:  # personal data: erasure has something to find
        subject = rng.randint(1, 200)
        name = FIRST_NAMES[subject % len(FIRST_NAMES)]
        doc["subject_id"] = f"subject-{subject}"
        doc["metadata"]["author"] = f"{name}.{subject}@example.com"
    return doc


def generate_batches(plan: SeedPlan) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(tenant, documents) batches, each for one tenant, in a fixed order for the seed."""
    rng = random.Random(f"seed:{plan.seed}")
    vocab = Vocabulary(seed=plan.seed, size=plan.vocabulary_size)
    names = tenant_names(plan.tenants)
    weights = _tenant_weights(plan.tenants)
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(plan.docs):
        tenant = rng.choices(names, weights=weights)[0]
        pending[tenant].append(make_document(rng, vocab, index))
        if len(pending[tenant]) == plan.batch_size:
            yield tenant, pending[tenant]
            pending[tenant] = []
    for tenant in names:
        if pending[tenant]:
            yield tenant, pending[tenant]
