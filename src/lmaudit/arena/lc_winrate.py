"""Win rate against a baseline, raw and length-controlled (AlpacaEval 2's GLM).

Per prompt i the judge's preference for the model over the baseline is p_i in [0, 1]: the
mean over the judged orders of 1 (model better), 1/2 (tie), 0 (baseline better). The raw
win rate is 100 * mean(p_i), with a Student-t interval over prompts.

Length control (Dubois et al. 2024, "Length-Controlled AlpacaEval"): fit the GLM

    logit q_i = theta + phi * tanh(delta_i / sd(delta)) + psi * gamma_i

to the soft labels p_i by maximum likelihood (cross-entropy with probability targets),
where delta_i = characters of the model's answer minus the baseline's, sd is the sample
standard deviation (ddof 1) and gamma_i the instruction's difficulty. The length-controlled
win rate is the prediction with the length difference set to zero,
100 * mean_i sigmoid(theta + psi * gamma_i). Its interval is a percentile bootstrap over
prompts (the GLM refitted each round, vectorised; sd(delta) and gamma held fixed).
Difficulties: given per prompt, or estimated from several models' preferences with
`estimate_difficulty` (AlpacaEval ships difficulties fitted on its leaderboard); with
neither the difficulty term is left out. AlpacaEval fits with an L1 penalty chosen by
cross-validation; here the fit is the plain MLE with a tiny ridge (`ridge`, on the summed
loss) that only keeps all-win or all-loss data finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from lmaudit.arena.cells import FloatArray
from lmaudit.arena.judges import Judgment, ModelOutputs
from lmaudit.core.types import LmauditError
from lmaudit.stats.intervals import Estimate, mean_estimate


def preferences_against(
    judgments: Sequence[Judgment], model: str, baseline: str
) -> dict[str, float]:
    """Per prompt: mean over parsed orders of 1 / 0.5 / 0 from `model`'s side."""
    scores: dict[str, list[float]] = {}
    for j in judgments:
        if j.level is None or {j.first, j.second} != {model, baseline}:
            continue
        side = j.level if j.first == model else -j.level
        scores.setdefault(j.prompt_id, []).append(1.0 if side > 0 else 0.0 if side < 0 else 0.5)
    return {pid: float(np.mean(v)) for pid, v in scores.items()}


def win_rate(preferences: Mapping[str, float], confidence: float = 0.95) -> Estimate:
    """Raw win rate in percent with a t interval over prompts, kept inside [0, 100]
    (`mean_estimate` with bounds: Wilson on the prompts when the t interval leaves them)."""
    if not preferences:
        raise LmauditError("no parsed judgments against the baseline")
    values = np.array(list(preferences.values())) * 100.0
    estimate = mean_estimate(values, confidence, bounds=(0.0, 100.0))
    return estimate


def _fit_glm(
    targets: FloatArray, design: FloatArray, weights: FloatArray, ridge: float, iterations: int = 50
) -> FloatArray:
    """Batched Newton for logistic regression with soft labels.

    `weights` (rounds, n) are bootstrap counts; returns coefficients (rounds, k)."""
    rounds, k = weights.shape[0], design.shape[1]
    beta = np.zeros((rounds, k))
    for _ in range(iterations):
        q = expit(beta @ design.T)  # (rounds, n)
        grad = ((targets - q) * weights) @ design - ridge * beta
        curvature = q * (1 - q) * weights
        hess = np.einsum("rn,ni,nj->rij", curvature, design, design) + ridge * np.eye(k)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


@dataclass(frozen=True)
class LengthControlledResult:
    model: str
    baseline: str
    win_rate: Estimate
    lc_win_rate: Estimate
    theta: float
    length_coefficient: float
    difficulty_coefficient: float | None
    length_sd: float
    n_prompts: int


def length_controlled_win_rate(
    preferences: Mapping[str, float],
    model_outputs: ModelOutputs,
    baseline_outputs: ModelOutputs,
    *,
    difficulty: Mapping[str, float] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    ridge: float = 1e-6,
) -> LengthControlledResult:
    """Raw and length-controlled win rates of `model_outputs` against the baseline."""
    prompts = sorted(preferences)
    if len(prompts) < 3:
        raise LmauditError("length control needs preferences on at least 3 prompts")
    targets = np.array([preferences[p] for p in prompts])
    delta = np.array(
        [len(model_outputs.answers[p][1]) - len(baseline_outputs.answers[p][1]) for p in prompts],
        dtype=float,
    )
    sd = float(delta.std(ddof=1))
    length_term = np.tanh(delta / sd) if sd > 0 else np.zeros(len(prompts))
    columns = [np.ones(len(prompts)), length_term]
    if difficulty is not None:
        missing = [p for p in prompts if p not in difficulty]
        if missing:
            raise LmauditError(f"no difficulty for prompt(s) {', '.join(missing[:5])}")
        columns.append(np.array([difficulty[p] for p in prompts]))
    design = np.column_stack(columns)
    no_length = design.copy()
    no_length[:, 1] = 0.0
    full = _fit_glm(targets, design, np.ones((1, len(prompts))), ridge)[0]
    value = float(expit(no_length @ full).mean() * 100)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(prompts), np.full(len(prompts), 1 / len(prompts)), size=bootstrap)
    boot = _fit_glm(targets, design, draws.astype(float), ridge)
    replicates = expit(boot @ no_length.T).mean(axis=1) * 100
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    lc = Estimate(
        value,
        float(low),
        float(high),
        len(prompts),
        "bootstrap-percentile",
        float(replicates.std(ddof=1)),
        confidence,
    )
    return LengthControlledResult(
        model=model_outputs.model,
        baseline=baseline_outputs.model,
        win_rate=win_rate(preferences, confidence),
        lc_win_rate=lc,
        theta=float(full[0]),
        length_coefficient=float(full[1]),
        difficulty_coefficient=float(full[2]) if difficulty is not None else None,
        length_sd=sd,
        n_prompts=len(prompts),
    )


def estimate_difficulty(
    preferences: Mapping[str, Mapping[str, float]], ridge: float = 1.0
) -> dict[str, float]:
    """Instruction difficulty gamma_i from several models' preferences against a baseline:
    the additive logistic model logit p_mi = theta_m - gamma_i (soft labels), with
    ridge/2 |gamma|^2 and sum(gamma) = 0. Higher gamma: the baseline is harder to beat."""
    models = sorted(preferences)
    prompts = sorted({p for prefs in preferences.values() for p in prefs})
    if len(models) < 2:
        raise LmauditError("estimating instruction difficulty needs at least two models")
    m_index = {m: i for i, m in enumerate(models)}
    p_index = {p: i for i, p in enumerate(prompts)}
    rows = [
        (m_index[m], p_index[p], v) for m, prefs in preferences.items() for p, v in prefs.items()
    ]
    mi = np.array([r[0] for r in rows])
    pi = np.array([r[1] for r in rows])
    target = np.array([r[2] for r in rows])
    n_m, n_p = len(models), len(prompts)
    design = np.zeros((len(rows), n_m + n_p))
    design[np.arange(len(rows)), mi] = 1.0
    design[np.arange(len(rows)), n_m + pi] = -1.0
    penalty = np.r_[np.zeros(n_m), np.full(n_p, ridge)]
    params = np.zeros(n_m + n_p)
    for _ in range(100):
        q = expit(design @ params)
        grad = design.T @ (target - q) - penalty * params
        hess = design.T @ (design * (q * (1 - q))[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        params += step
        if np.abs(step).max() < 1e-10:
            break
    gamma = params[n_m:] - params[n_m:].mean()
    return {p: float(gamma[i]) for p, i in p_index.items()}
