"""Simulated battles with known strengths and style effects (checks, power, benchmarks).

Each battle draws a uniformly random pair of distinct models and a random side order. Each
model has a style profile (typical answer length and rates of headers, list items, bold
spans and emoji); each response draws its counts from that profile, so style correlates
with model identity as in real arenas. With eta = theta_a - theta_b + z . beta (z: the
standardised style features exactly as `style_design` computes them from the counts),

    P(tie) = 4 tie_rate s (1 - s),  P(a wins) = s - P(tie) / 2,  s = sigmoid(eta),

so that E[score of a] = sigmoid(eta) exactly: the ties-as-half-wins likelihood has the
right mean (a quasi-likelihood), and its sandwich covariance is the correct one.
`tie_rate` must lie in [0, 1/2].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit

from lmaudit.arena.battles import STYLE_STATS, WINNERS, Battles
from lmaudit.arena.cells import FloatArray, IntArray
from lmaudit.arena.style import StyleDesign, normalized_difference
from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class SimulatedBattles:
    """Battles with the truth that generated them. Counts are (battles, 5) in STYLE_STATS
    order; `outcome` codes: 0 a wins, 1 b wins, 2 tie."""

    models: tuple[str, ...]
    theta: FloatArray
    beta: FloatArray
    a: IntArray
    b: IntArray
    outcome: IntArray
    counts_a: FloatArray
    counts_b: FloatArray

    def design(self) -> StyleDesign:
        """The style design `style_design(self.to_battles())` would build, computed directly."""
        raw = normalized_difference(self.counts_a, self.counts_b)
        mean, std = raw.mean(axis=0), raw.std(axis=0)
        if np.any(std <= 0):
            raise LmauditError("a simulated style feature is constant; simulate more battles")
        n = len(self.a)
        return StyleDesign(
            models=self.models,
            a=self.a,
            b=self.b,
            score=np.array([1.0, 0.0, 0.5])[self.outcome],
            count=np.ones(n),
            weight=np.ones(n),
            features=(raw - mean) / std,
            names=STYLE_STATS,
            mean=mean,
            std=std,
            dropped=(),
        )

    def to_battles(self) -> Battles:
        names = np.asarray(self.models, dtype=object)
        frame = pd.DataFrame(
            {
                "model_a": names[self.a],
                "model_b": names[self.b],
                "winner": np.asarray(WINNERS, dtype=object)[self.outcome],
                "count": np.ones(len(self.a)),
                "weight": np.ones(len(self.a)),
                "location": [f"battle {i + 1}" for i in range(len(self.a))],
            }
        )
        for j, stat in enumerate(STYLE_STATS):
            frame[f"{stat}_a"] = self.counts_a[:, j]
            frame[f"{stat}_b"] = self.counts_b[:, j]
        return Battles(frame, source="<simulated>", ordered=True)


def standardized_features(counts_a: FloatArray, counts_b: FloatArray) -> FloatArray:
    """The style design's z for unit-count battles (normalised difference, standardised)."""
    raw = normalized_difference(counts_a, counts_b)
    std = raw.std(axis=0)
    return np.asarray((raw - raw.mean(axis=0)) / np.where(std > 0, std, 1.0))


def _style_counts(
    rng: np.random.Generator, models: IntArray, profile: dict[str, FloatArray]
) -> FloatArray:
    tokens = np.round(np.exp(rng.normal(profile["log_tokens"][models], 0.5)))
    rates = [profile[name][models] for name in ("headers", "list_items", "bold", "emoji")]
    return np.column_stack([tokens, *[rng.poisson(rate) for rate in rates]]).astype(float)


def simulate_battles(
    theta: npt.ArrayLike,
    n_battles: int,
    *,
    beta: npt.ArrayLike | None = None,
    tie_rate: float = 0.0,
    seed: int | np.random.Generator = 0,
) -> SimulatedBattles:
    """Simulate `n_battles` battles among len(theta) models (theta in natural-log units;
    `beta` per standardised style feature in STYLE_STATS order, default no style effect)."""
    strengths = np.asarray(theta, dtype=float)
    effects = np.zeros(len(STYLE_STATS)) if beta is None else np.asarray(beta, dtype=float)
    if len(effects) != len(STYLE_STATS):
        raise LmauditError(f"beta needs {len(STYLE_STATS)} values ({', '.join(STYLE_STATS)})")
    if not 0.0 <= tie_rate <= 0.5:
        raise LmauditError("tie_rate must lie in [0, 0.5]")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_models = len(strengths)
    profile = {
        "log_tokens": rng.normal(6.0, 0.5, n_models),
        "headers": rng.gamma(2.0, 1.0, n_models),
        "list_items": rng.gamma(2.0, 2.0, n_models),
        "bold": rng.gamma(2.0, 1.5, n_models),
        "emoji": rng.gamma(0.5, 0.5, n_models),
    }
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    counts_a, counts_b = _style_counts(rng, a, profile), _style_counts(rng, b, profile)
    z = standardized_features(counts_a, counts_b)
    s = expit(strengths[a] - strengths[b] + z @ effects)
    p_tie = 4 * tie_rate * s * (1 - s)
    u = rng.random(n_battles)
    outcome = np.where(u < s - p_tie / 2, 0, np.where(u < s + p_tie / 2, 2, 1))
    return SimulatedBattles(
        models=tuple(f"model-{i:02d}" for i in range(n_models)),
        theta=strengths - strengths.mean(),
        beta=effects,
        a=a.astype(np.int64),
        b=b.astype(np.int64),
        outcome=outcome.astype(np.int64),
        counts_a=counts_a,
        counts_b=counts_b,
    )
