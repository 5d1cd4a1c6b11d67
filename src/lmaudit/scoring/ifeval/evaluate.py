"""Strict and loose IFEval verdicts for one prompt, and the per-sample metric columns.

Strict: each instruction's checker on the response as given; a blank response follows
no instruction. Loose (the authors' upper bound): an instruction is followed when its
checker passes on any non-blank variant of the response: the response itself, without
its first line, without its last line, without both (each of these stripped), and each
of those four with every "*" removed (markdown emphasis). Lines are split on "\\n".

Per-sample columns (one sample = one prompt):
- `prompt_strict`, `prompt_loose`: 1.0 when every instruction of the prompt is followed.
- `n_instructions`, `inst_strict_followed`, `inst_loose_followed`: counts, whose ratio of
  sums over prompts is the instruction-level accuracy.
- per instruction type `<id>` present in the prompt: `n.<id>`, `followed_strict.<id>`,
  `followed_loose.<id>`. A prompt without the type has no such column (read as NaN), so a
  type's estimate uses, and its `n` counts, only the prompts that carry it, and a type
  that no prompt carries is not reported.

Reported metrics: `prompt_strict`, `prompt_loose` (proportions, Wilson intervals);
`inst_strict`, `inst_loose` and `inst_strict.<id>`, `inst_loose.<id>` (ratios of sums
with a percentile bootstrap over prompts, i.e. the instruction-level interval is
clustered by prompt: instructions of one prompt are resampled together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.scoring.ifeval.instructions import INSTRUCTION_IDS, Instruction, build_instruction

VERSION = "ifeval-checkers-v1"


def loose_variants(response: str) -> list[str]:
    """The eight responses the loose rule tries, in the authors' order: as given, "*"
    removed, first line removed, last line removed, both removed, and the last three
    with "*" removed. Removed-line variants are stripped of surrounding whitespace."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


def follows_strict(instruction: Instruction, response: str) -> bool:
    """The checker passes on the response as given, which must not be blank."""
    return bool(response.strip()) and instruction.follows(response)


def follows_loose(instruction: Instruction, response: str) -> bool:
    """The checker passes on at least one non-blank loose variant."""
    return any(v.strip() and instruction.follows(v) for v in loose_variants(response))


@dataclass(frozen=True)
class PromptVerdict:
    """Strict and loose verdicts for each instruction of one prompt, in prompt order."""

    instruction_ids: tuple[str, ...]
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    def metrics(self) -> dict[str, float]:
        """The per-sample columns described in the module docstring."""
        values: dict[str, float] = {
            "prompt_strict": float(all(self.strict)),
            "prompt_loose": float(all(self.loose)),
            "n_instructions": float(len(self.instruction_ids)),
            "inst_strict_followed": float(sum(self.strict)),
            "inst_loose_followed": float(sum(self.loose)),
        }
        for instruction_id, strict, loose in zip(
            self.instruction_ids, self.strict, self.loose, strict=True
        ):
            if f"n.{instruction_id}" not in values:
                for column in ("n", "followed_strict", "followed_loose"):
                    values[f"{column}.{instruction_id}"] = 0.0
            values[f"n.{instruction_id}"] += 1.0
            values[f"followed_strict.{instruction_id}"] += float(strict)
            values[f"followed_loose.{instruction_id}"] += float(loose)
        return values


def build_instructions(
    instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None]
) -> list[Instruction]:
    """One validated `Instruction` per id (`kwargs_list` parallel to the ids)."""
    if len(instruction_ids) != len(kwargs_list):
        from lmaudit.core.types import LmauditError

        raise LmauditError(
            f"{len(instruction_ids)} instruction ids but {len(kwargs_list)} kwargs entries"
        )
    return [build_instruction(i, k) for i, k in zip(instruction_ids, kwargs_list, strict=True)]


def judge_prompt(instructions: Sequence[Instruction], response: str) -> PromptVerdict:
    """Strict and loose verdicts of `response` for every instruction."""
    return PromptVerdict(
        tuple(i.id for i in instructions),
        tuple(follows_strict(i, response) for i in instructions),
        tuple(follows_loose(i, response) for i in instructions),
    )


def metric_specs(*, per_type: bool = True) -> list[MetricSpec]:
    """The reported metrics (module docstring), per-type breakdown included."""
    specs = [
        MetricSpec("prompt_strict", Aggregation.PROPORTION),
        MetricSpec("inst_strict", Aggregation.RATIO, "inst_strict_followed", "n_instructions"),
        MetricSpec("prompt_loose", Aggregation.PROPORTION),
        MetricSpec("inst_loose", Aggregation.RATIO, "inst_loose_followed", "n_instructions"),
    ]
    if per_type:
        for mode in ("strict", "loose"):
            specs.extend(
                MetricSpec(
                    f"inst_{mode}.{instruction_id}",
                    Aggregation.RATIO,
                    f"followed_{mode}.{instruction_id}",
                    f"n.{instruction_id}",
                )
                for instruction_id in INSTRUCTION_IDS
            )
    return specs
