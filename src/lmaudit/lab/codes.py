"""Code recall: the lab's task for size sweeps, where exact match needs every token right.

Each fact gives a person a random code of `digits` digits, written with spaces so that
every digit is one token of the lab tokenizer: `The code of Mia Stone is 4 8 1 9 3`. A
lab model trains on all facts (plus nothing else) and is asked to recall them: the prompt
is everything up to `is`, the target the code (` 4 8 1 9 3`). Closed-book recall of facts
seen in training, as in knowledge benchmarks: the items are the training facts.

Exact match needs all `digits` tokens right, so it stays near 0 until the per-token
accuracy p is high (about p ** digits when errors are independent), while the target's
log-likelihood and per-token accuracy move with every digit learned. Facts are drawn with
a seeded RNG; `code_facts(n)` is a prefix of `code_facts(m)` for n <= m.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from lmaudit.core.types import LmauditError

FIRST_NAMES = (
    "Mia", "Leo", "Ava", "Noah", "Emma", "Liam", "Zoe", "Omar", "Sara", "Ivan", "Nina", "Tom",
    "Lucy", "Ben", "Aisha", "Carlos", "Hana", "Raj", "Elena", "Sam",
)
LAST_NAMES = (
    "Stone", "Lake", "Hill", "Ford", "Marsh", "Wood", "Brook", "Field", "Vale", "Moss", "Reed",
    "Shaw", "Gray", "Pike", "Dunn",
)
DEFAULT_FACTS = 200
DEFAULT_DIGITS = 5
MAX_FACTS = len(FIRST_NAMES) * len(LAST_NAMES)


@dataclass(frozen=True)
class CodeFact:
    """One fact: `prompt` ends with `is`; `code` is the digits joined by single spaces."""

    id: str
    person: str
    code: str

    @property
    def prompt(self) -> str:
        return f"The code of {self.person} is"

    @property
    def document(self) -> str:
        return f"{self.prompt} {self.code}"


@cache
def _facts(digits: int, seed: int) -> tuple[CodeFact, ...]:
    rng = random.Random(f"lmaudit-lab-codes-{digits}-{seed}")
    people = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(people)
    return tuple(
        CodeFact(f"code-{i:03d}", person, " ".join(str(rng.randrange(10)) for _ in range(digits)))
        for i, person in enumerate(people)
    )


def code_facts(
    n: int = DEFAULT_FACTS, digits: int = DEFAULT_DIGITS, seed: int = 0
) -> list[CodeFact]:
    """The first `n` facts (at most 300, one per name) with codes of `digits` digits."""
    if not 1 <= n <= MAX_FACTS:
        raise LmauditError(f"code facts: n must be between 1 and {MAX_FACTS}, got {n}")
    if not 1 <= digits <= 20:
        raise LmauditError(f"code facts: digits must be between 1 and 20, got {digits}")
    return list(_facts(digits, seed)[:n])
