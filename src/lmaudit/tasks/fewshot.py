"""Few-shot example selection and context assembly (lm-evaluation-harness layout).

Context of one sample:

    description + ex_1 + fewshot_delimiter + ... + ex_n + fewshot_delimiter + prompt

where `ex_i = ex_i.prompt + target_delimiter + ex_i.answer` (lm-eval's defaults: target
delimiter " ", few-shot delimiter "\\n\\n"; the description is used as given, so it carries
its own trailing separator).

Selection rule (`fewshot-v1`): one fixed, ordered list of candidates per group (or for the
whole pool), drawn once: sampler `random` shuffles with `random.Random(f"{seed}/{group}")`
and takes the first n + 1; sampler `first_n` takes the pool's first n + 1 in file order.
Each sample uses the first n candidates that are not itself (the extra candidate replaces
the sample when the pool is the evaluation split). Every sample therefore sees the same
examples, except the few that are themselves a candidate; the context prefix is shared
(cache friendly), and the candidate ids go into the task spec. (lm-eval instead draws
fresh random examples for every sample.)

`group_by` names a field (read from `sample.metadata["fields"]`, else `sample.metadata`):
examples then come from the pool rows with the same value (MMLU: the same subject). A
null value (None, NaN) is an error, not a group named "None".
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import is_null

SAMPLERS = ("random", "first_n")
SELECTION_VERSION = "fewshot-v1"


@dataclass(frozen=True)
class FewshotConfig:
    """`n` examples from `split` (None: the evaluation split), drawn with `seed`."""

    n: int
    split: str | None = None
    seed: int = 0
    sampler: str = "random"
    group_by: str | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"few-shot n must be >= 0, got {self.n}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"few-shot sampler must be one of {SAMPLERS}, got {self.sampler!r}")


def group_value(sample: Sample, field: str | None) -> str:
    """The sample's value of `field` (from metadata["fields"], else metadata), as text."""
    if field is None:
        return ""
    fields = sample.metadata.get("fields") or {}
    if field in fields:
        value = fields[field]
    elif field in sample.metadata:
        value = sample.metadata[field]
    else:
        raise LmauditError(f"sample {sample.id}: few-shot group_by field {field!r} is missing")
    if is_null(value):
        raise LmauditError(f"sample {sample.id}: few-shot group_by field {field!r} is null")
    return str(value)


class FewshotSelector:
    """Chooses each sample's few-shot examples from a pool, reproducibly.

    `pool` is called once, on first use. `exclude_self`: the pool is the evaluation split,
    so a sample never serves as its own example.
    """

    def __init__(
        self,
        config: FewshotConfig,
        pool: Callable[[], Sequence[Sample]],
        *,
        exclude_self: bool,
        pool_name: str = "few-shot pool",
    ) -> None:
        self.config = config
        self.exclude_self = exclude_self
        self.pool_name = pool_name
        self._load_pool = pool
        self._candidates: dict[str, list[Sample]] | None = None

    def _draw(self) -> dict[str, list[Sample]]:
        if self._candidates is None:
            groups: dict[str, list[Sample]] = {}
            for sample in self._load_pool():
                groups.setdefault(group_value(sample, self.config.group_by), []).append(sample)
            wanted = self.config.n + (1 if self.exclude_self else 0)
            candidates: dict[str, list[Sample]] = {}
            for group, members in groups.items():
                if self.config.sampler == "random":
                    rng = random.Random(f"{self.config.seed}/{group}")
                    members = rng.sample(members, len(members))
                candidates[group] = members[:wanted]
            self._candidates = candidates
        return self._candidates

    def examples(self, sample: Sample) -> list[Sample]:
        """The n examples shown before `sample`, in order."""
        if self.config.n == 0:
            return []
        group = group_value(sample, self.config.group_by)
        candidates = self._draw().get(group, [])
        if self.exclude_self:
            candidates = [c for c in candidates if c.id != sample.id]
        if len(candidates) < self.config.n:
            where = f" with {self.config.group_by} {group!r}" if self.config.group_by else ""
            raise LmauditError(
                f"few-shot: {self.config.n} examples requested for sample {sample.id} but "
                f"the {self.pool_name}{where} has only {len(candidates)} usable rows"
            )
        return candidates[: self.config.n]

    def spec(self, *, with_ids: bool = True) -> dict[str, Any]:
        """Config, selection rule version and the candidate ids (per group when grouped;
        `with_ids=False` skips them, and loading the pool)."""
        ids: Any = [] if self.config.n == 0 else None
        if self.config.n > 0 and with_ids:
            drawn = {g: [s.id for s in c] for g, c in self._draw().items()}
            ids = drawn if self.config.group_by else drawn.get("", [])
        return {
            "n": self.config.n,
            "split": self.config.split,
            "seed": self.config.seed,
            "sampler": self.config.sampler,
            "group_by": self.config.group_by,
            "pool": self.pool_name,
            "exclude_self": self.exclude_self,
            "selection": SELECTION_VERSION,
            "candidate_ids": ids,
        }


def build_context(
    prompt: str,
    examples: Sequence[tuple[str, str]],
    *,
    description: str = "",
    target_delimiter: str = " ",
    fewshot_delimiter: str = "\n\n",
) -> str:
    """description + rendered (prompt, answer) examples + prompt (layout in module doc)."""
    shots = "".join(
        example_prompt + target_delimiter + answer + fewshot_delimiter
        for example_prompt, answer in examples
    )
    return description + shots + prompt
