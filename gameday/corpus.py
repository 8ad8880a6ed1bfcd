"""The synthetic corpus's vocabulary, shared by `gameday seed` (documents) and
the load scenarios (queries), so that queries hit what was indexed.

Words are made of syllables by a seeded generator and ranked; word frequencies
follow Zipf's law, like natural text, which makes a few queries very popular
(cacheable) and leaves a long tail (not cacheable).

    vocab = Vocabulary(seed=42)
    vocab.words[:3]               # the most frequent words
    vocab.sample(rng, k=2)        # two words drawn with Zipf weights
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from dataclasses import dataclass, field

_ONSETS = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "n", "r", "s", "l", "x"]

DEFAULT_SIZE = 5000
DEFAULT_EXPONENT = 1.1


@dataclass
class Vocabulary:
    seed: int = 42
    size: int = DEFAULT_SIZE
    exponent: float = DEFAULT_EXPONENT
    words: list[str] = field(init=False)
    _cumulative: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        words, cumulative = _build(self.seed, self.size, self.exponent)
        self.words, self._cumulative = list(words), list(cumulative)

    def sample(self, rng: random.Random, k: int = 1) -> list[str]:
        """k words drawn independently with Zipf weights."""
        total = self._cumulative[-1]
        return [
            self.words[bisect.bisect_left(self._cumulative, rng.random() * total)] for _ in range(k)
        ]

    def unknown_word(self, rng: random.Random) -> str:
        """A word that is not in the vocabulary: a query with zero hits."""
        return "zq" + "".join(rng.choice("xqzj") for _ in range(8))


@functools.cache
def _build(seed: int, size: int, exponent: float) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The words and their cumulative Zipf weights, made once per process: every simulated
    client of a run makes a Vocabulary in its on_start (48 per process for `read_only`),
    and making one is about 27 ms of pure CPU that never yields to the event loop."""
    rng = random.Random(f"vocabulary:{seed}")
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < size:
        syllables = rng.choice((2, 2, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = [1.0 / (rank**exponent) for rank in range(1, size + 1)]
    return tuple(words), tuple(itertools.accumulate(weights))
