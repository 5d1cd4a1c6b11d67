"""JSON-ready dicts of arena results (NaN and infinities become null)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lmaudit.arena.ranking import RankReport


def clean(value: Any) -> Any:
    """Recursively turn dataclasses, arrays and numpy scalars into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def rank_report_to_dict(
    report: RankReport, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything `lmaudit arena rank` computed, for `--json`."""
    out: dict[str, Any] = {
        "leaderboard": report.leaderboard.to_dict(),
        "fit": report.fit,
        "win_probabilities": {
            "models": list(report.leaderboard.models),
            "matrix": report.win_probabilities,
            "meaning": "P(row model beats column model), ties as half, from the ratings",
        },
        "timings_s": report.timings,
        "notes": list(report.notes),
    }
    if report.style is not None:
        out["style_control"] = {
            "leaderboard": report.style.leaderboard.to_dict(),
            "coefficients": report.style.coefficients,
            "coefficient_units": "log-odds of winning per standard deviation of the feature",
            "rank_changes": report.style.changes,
            "dropped_features": report.style.dropped,
            "penalty": report.style.penalty,
            "gradient_max": report.style.gradient_max,
        }
    if report.robustness is not None:
        smallest = report.robustness.smallest
        out["robustness"] = {
            "top_model": report.robustness.top_model,
            "n_battles": report.robustness.n_battles,
            "smallest_votes_to_change_top": smallest.votes_removed if smallest else None,
            "audits": report.robustness.audits,
        }
    if report.position is not None:
        out["position_term"] = report.position
    out.update(extra or {})
    return dict(clean(out))
