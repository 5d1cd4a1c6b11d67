"""IFEval's verifiable instructions, checked with the authors' semantics (Zhou et al.
2023, google-research `instruction_following_eval`), strict and loose.

Modules: `text` (sentence, word and token counts, language detection, offline),
`content` and `layout` (the 25 checkers), `instructions` (ids and argument checking),
`evaluate` (strict and loose verdicts per prompt, per-sample metric columns).
"""

from lmaudit.scoring.ifeval.evaluate import (
    VERSION,
    PromptVerdict,
    build_instructions,
    judge_prompt,
    loose_variants,
    metric_specs,
)
from lmaudit.scoring.ifeval.instructions import (
    CHECKERS,
    INSTRUCTION_IDS,
    Instruction,
    build_instruction,
)

__all__ = [
    "CHECKERS",
    "INSTRUCTION_IDS",
    "VERSION",
    "Instruction",
    "PromptVerdict",
    "build_instruction",
    "build_instructions",
    "judge_prompt",
    "loose_variants",
    "metric_specs",
]
