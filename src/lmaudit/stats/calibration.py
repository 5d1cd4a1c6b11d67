"""Calibration of a model's confidences: expected calibration error, reliability bins, Brier.

`confidences` are probabilities in [0, 1] that the model's chosen answer is right (e.g. the
top option's softmax probability over the choices); `correct` is 1/0 for that answer.

Binning strategies (`n_bins` = B):
- `equal_mass` (HELM's `ece_10_bin`, which calls Kumar et al.'s uncertainty-calibration
  `get_ece_em`): sort the n confidences and cut them into k = min(B, n) consecutive groups
  of near-equal size (the first n mod k groups hold one more). Each boundary is the midpoint
  between the last value of a group and the first of the next; the top boundary is 1.0.
  Bin i holds the values in (boundary[i-1], boundary[i]]: a value equal to a boundary goes
  to the lower bin, so tied confidences never straddle two bins; boundaries that coincide
  (heavy ties) merge their bins, so fewer than k bins may remain.
- `equal_width`: [0, 1/B), [1/B, 2/B), ..., [(B-1)/B, 1], the top bin closed. (Kumar's
  equal-width bins are closed on the right instead; they differ only for confidences lying
  exactly on a boundary.)

ECE = sum over bins of (count / n) * |mean confidence - accuracy| (the L1, plug-in estimate,
no debiasing).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from lmaudit.stats.validation import (
    FloatArray,
    IntArray,
    StatsInputError,
    as_binary_vector,
    as_float_vector,
    check_same_length,
)

BinStrategy = Literal["equal_mass", "equal_width"]


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram. Empty bins have count 0 and NaN means."""

    lower: float
    upper: float
    mean_confidence: float
    accuracy: float
    count: int


def _probabilities(values: Any, name: str) -> FloatArray:
    array = as_float_vector(values, name)
    outside = (array < 0.0) | (array > 1.0)
    if outside.any():
        rows = np.flatnonzero(outside)[:5].tolist()
        raise StatsInputError(f"{name}: probabilities must lie in [0, 1]; rows {rows} do not")
    return array


def _equal_mass_edges(confidences: FloatArray, n_bins: int) -> FloatArray:
    """Upper bin boundaries (ascending, last 1.0) for equal-mass bins."""
    ordered = np.sort(confidences)
    groups = np.array_split(ordered, min(n_bins, ordered.shape[0]))
    cuts = [(low[-1] + high[0]) / 2.0 for low, high in pairwise(groups)]
    return np.unique(np.array([*cuts, 1.0]))


def _assign_bins(
    confidences: FloatArray, n_bins: int, strategy: str
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Bin index of each confidence, and the lower and upper bound of each bin."""
    if n_bins < 1:
        raise StatsInputError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "equal_mass":
        uppers = _equal_mass_edges(confidences, n_bins)
        index = np.searchsorted(uppers, confidences, side="left")
        lowers = np.concatenate([[0.0], uppers[:-1]])
        return index.astype(np.int64), lowers, uppers
    if strategy == "equal_width":
        edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins
        index = np.searchsorted(edges, confidences, side="right") - 1
        return np.minimum(index, n_bins - 1).astype(np.int64), edges[:-1], edges[1:]
    raise StatsInputError(f"strategy {strategy!r} unknown; choose 'equal_mass' or 'equal_width'")


def reliability_bins(
    confidences: Any,
    correct: Any,
    n_bins: int = 10,
    strategy: BinStrategy = "equal_mass",
) -> list[ReliabilityBin]:
    """Per-bin mean confidence, accuracy and count, in ascending order of confidence."""
    conf = _probabilities(confidences, "confidences")
    hits = as_binary_vector(correct, "correct")
    check_same_length("confidences", conf, "correct", hits)
    index, lowers, uppers = _assign_bins(conf, n_bins, strategy)
    n_out = lowers.shape[0]
    counts = np.bincount(index, minlength=n_out)
    conf_sums = np.bincount(index, weights=conf, minlength=n_out)
    hit_sums = np.bincount(index, weights=hits, minlength=n_out)
    bins = []
    for i in range(n_out):
        count = int(counts[i])
        mean_conf = float(conf_sums[i] / count) if count else float("nan")
        accuracy = float(hit_sums[i] / count) if count else float("nan")
        bins.append(ReliabilityBin(float(lowers[i]), float(uppers[i]), mean_conf, accuracy, count))
    return bins


def expected_calibration_error(
    confidences: Any,
    correct: Any,
    n_bins: int = 10,
    strategy: BinStrategy = "equal_mass",
) -> float:
    """ECE in [0, 1]: count-weighted mean |confidence - accuracy| over bins (module doc)."""
    bins = reliability_bins(confidences, correct, n_bins, strategy)
    total = sum(b.count for b in bins)
    return float(
        sum(b.count / total * abs(b.mean_confidence - b.accuracy) for b in bins if b.count)
    )


def brier_score(probs: Any, correct: Any) -> float:
    """Binary Brier score mean((p - y)^2) in [0, 1]; p = probability the answer is right."""
    p = _probabilities(probs, "probs")
    y = as_binary_vector(correct, "correct")
    check_same_length("probs", p, "correct", y)
    return float(np.mean((p - y) ** 2))


def brier_multiclass(prob_matrix: Any, target_index: Any, atol: float = 1e-3) -> float:
    """Brier's (1950) multi-class score in [0, 2].

    Mean over samples of sum over classes of (p_k - [k == target])^2. `prob_matrix` has shape
    (n, K) with rows summing to 1 (within `atol`); `target_index` holds integers in [0, K).
    For K = 2 it is twice the binary `brier_score`.
    """
    try:
        matrix = np.asarray(prob_matrix, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise StatsInputError(f"prob_matrix: values are not numbers ({error})") from None
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise StatsInputError(
            f"prob_matrix: expected shape (n, K) with n, K >= 1, got {matrix.shape}"
        )
    _probabilities(matrix.ravel(), "prob_matrix")
    row_error = np.abs(matrix.sum(axis=1) - 1.0) > atol
    if row_error.any():
        rows = np.flatnonzero(row_error)[:5].tolist()
        raise StatsInputError(f"prob_matrix: rows {rows} do not sum to 1")
    targets = as_float_vector(target_index, "target_index")
    check_same_length("prob_matrix", matrix, "target_index", targets)
    bad = (targets != np.round(targets)) | (targets < 0) | (targets >= matrix.shape[1])
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise StatsInputError(
            f"target_index: rows {rows} are not class indices in [0, {matrix.shape[1]})"
        )
    onehot = np.zeros_like(matrix)
    onehot[np.arange(matrix.shape[0]), targets.astype(np.int64)] = 1.0
    return float(np.mean(np.sum((matrix - onehot) ** 2, axis=1)))
