"""Scoring: answer extraction (strict and flexible, versioned) and comparison.

`get_scorer(name)` returns a registered scorer ("numeric", "exact", "exact_ci", "contains",
"contains_ci", "arc_grid", or anything registered with `register_scorer`).
"""

from __future__ import annotations

from lmaudit.scoring.grids import ArcGridScorer, grid_to_text, parse_grid, parse_grids
from lmaudit.scoring.numeric import (
    FLEXIBLE_VERSION,
    STRICT_VERSION,
    NumericScorer,
    extract_flexible,
    extract_strict,
    normalize_number,
    numbers_equal,
    parse_gsm8k_target,
)
from lmaudit.scoring.registry import (
    DEFAULT_SCORER,
    ScoreOutcome,
    Scorer,
    get_scorer,
    register_scorer,
    scorer_names,
)
from lmaudit.scoring.text import ContainsScorer, ExactMatchScorer, normalize_whitespace

__all__ = [
    "DEFAULT_SCORER",
    "FLEXIBLE_VERSION",
    "STRICT_VERSION",
    "ArcGridScorer",
    "ContainsScorer",
    "ExactMatchScorer",
    "NumericScorer",
    "ScoreOutcome",
    "Scorer",
    "extract_flexible",
    "extract_strict",
    "get_scorer",
    "grid_to_text",
    "normalize_number",
    "normalize_whitespace",
    "numbers_equal",
    "parse_grid",
    "parse_grids",
    "parse_gsm8k_target",
    "register_scorer",
    "scorer_names",
]
