from __future__ import annotations

from collections import Counter

import pytest

from gameday.corpus import Vocabulary
from gameday.seed import SeedPlan, generate_batches, tenant_names
from service.documents.schemas import BulkIn


def _all(plan: SeedPlan) -> list[tuple[str, list[dict[str, object]]]]:
    return list(generate_batches(plan))


def test_the_same_seed_gives_the_same_corpus() -> None:
    assert _all(SeedPlan(docs=700, tenants=3, seed=7)) == _all(
        SeedPlan(docs=700, tenants=3, seed=7)
    )
    assert _all(SeedPlan(docs=700, tenants=3, seed=7)) != _all(
        SeedPlan(docs=700, tenants=3, seed=8)
    )


def test_batches_are_per_tenant_bounded_and_add_up() -> None:
    batches = _all(SeedPlan(docs=2600, tenants=4, seed=1))
    assert sum(len(docs) for _, docs in batches) == 2600
    assert all(1 <= len(docs) <= 500 for _, docs in batches)
    assert {tenant for tenant, _ in batches} <= set(tenant_names(4))
    assert tenant_names(2) == ["tenant-1", "tenant-2"]


def test_every_generated_batch_passes_the_services_own_validation() -> None:
    for _, docs in _all(SeedPlan(docs=1200, tenants=2, seed=3)):
        BulkIn.model_validate({"documents": docs})


def test_word_frequencies_follow_the_shared_zipf_vocabulary() -> None:
    vocab = Vocabulary(seed=5)
    counts: Counter[str] = Counter()
    for _, docs in _all(SeedPlan(docs=300, tenants=1, seed=5)):
        for doc in docs:
            counts.update(str(doc["body"]).lower().replace(".", " ").split())
    top = [word for word, _ in counts.most_common(3)]
    assert vocab.words[0] in top
    assert counts[vocab.words[0]] > 5 * counts[vocab.words[50]]


def test_some_documents_carry_a_subject_with_personal_data() -> None:
    docs = [d for _, batch in _all(SeedPlan(docs=500, tenants=1, seed=9)) for d in batch]
    with_subject = [d for d in docs if "subject_id" in d]
    assert 0.05 < len(with_subject) / len(docs) < 0.2
    assert all("@" in str(d["metadata"]["author"]) for d in with_subject)  # type: ignore[index]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"docs": -1, "tenants": 1},
        {"docs": 1, "tenants": 0},
        {"docs": 1, "tenants": 1, "batch_size": 501},
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SeedPlan(**kwargs)


def test_vocabularies_of_one_seed_share_one_build_but_not_their_lists() -> None:
    first, second = Vocabulary(seed=5, size=300), Vocabulary(seed=5, size=300)
    assert first.words == second.words and first.words is not second.words
    first.words.append("mutated")  # one instance's change is not another's
    assert "mutated" not in Vocabulary(seed=5, size=300).words
    assert Vocabulary(seed=6, size=300).words != second.words
