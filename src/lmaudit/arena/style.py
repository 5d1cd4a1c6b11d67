"""Style features of battle responses, for style-controlled ratings.

Per response: answer tokens, markdown headers, list items, bold spans and emoji, counted as

- tokens: `\\w+` words and single punctuation characters (regex `\\w+|[^\\w\\s]`), unless a
  `count_tokens` function is given (FastChat counts tiktoken tokens; any tokenizer can be
  passed);
- headers: lines starting with 1-6 `#` and a space (`^#{1,6}\\s`);
- list items: lines starting with `-`, `*`, `+` or `N.` and a space (`^\\s*([-*+]|\\d+\\.)\\s`);
- bold: `**text**` or `__text__` spans within a line;
- emoji: code points in the emoji pictograph, emoticon, transport, symbol and dingbat blocks
  and regional indicators (skin-tone modifiers, ZWJ and variation selectors not counted).

The feature of a battle is the normalised difference (a - b) / (a + b + 1) of each count,
then standardised to mean 0 and standard deviation 1 over battles (battle-count weighted,
population standard deviation), as in FastChat's style control. A feature that is constant
over the battles cannot be estimated and is dropped (reported in `StyleDesign.dropped`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from lmaudit.arena.battles import STYLE_STATS, Battles, model_codes, winner_codes
from lmaudit.arena.cells import FloatArray, IntArray
from lmaudit.core.types import LmauditError

_TOKEN = re.compile(r"\w+|[^\w\s]")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
_EMOJI = re.compile(
    "["
    "\U0001f1e6-\U0001f1ff"  # regional indicators (flags)
    "\U0001f300-\U0001f3fa\U0001f400-\U0001f5ff"  # pictographs (skin tones excluded)
    "\U0001f600-\U0001f64f"  # emoticons
    "\U0001f680-\U0001f6ff"  # transport and map
    "\U0001f780-\U0001f7ff"  # geometric shapes extended
    "\U0001f900-\U0001f9ff\U0001fa70-\U0001faff"  # supplemental pictographs
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats
    "]"
)
MAX_LISTED_ROWS = 10


def style_counts(text: str, count_tokens: Callable[[str], int] | None = None) -> dict[str, int]:
    """The five style counts of one response (see the module docstring)."""
    return {
        "tokens": count_tokens(text) if count_tokens else len(_TOKEN.findall(text)),
        "headers": len(_HEADER.findall(text)),
        "list_items": len(_LIST_ITEM.findall(text)),
        "bold": len(_BOLD.findall(text)),
        "emoji": len(_EMOJI.findall(text)),
    }


def normalized_difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """(a - b) / (a + b + 1): in (-1, 1), 0 when equal, scale-free for large counts."""
    return np.asarray((a - b) / (a + b + 1.0), dtype=float)


@dataclass(frozen=True)
class StyleDesign:
    """Battles as rows for a contextual Bradley-Terry fit (orientation as in the input).

    `features` are standardised normalised differences (rows, features); `mean` and `std`
    are those of the raw normalised differences, for converting coefficients back.
    """

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    score: FloatArray
    count: FloatArray
    weight: FloatArray
    features: FloatArray
    names: tuple[str, ...]
    mean: FloatArray
    std: FloatArray
    dropped: tuple[str, ...]

    @property
    def n_models(self) -> int:
        return len(self.models)


def with_inverse_propensity_rows(design: StyleDesign, min_pair_count: float = 50.0) -> StyleDesign:
    """Battle weights times 1 / max(battles of the unordered pair, `min_pair_count`),
    rescaled to total the number of battles (as `cells.with_inverse_propensity_weights`)."""
    low, high = np.minimum(design.a, design.b), np.maximum(design.a, design.b)
    _, pair = np.unique(low * design.n_models + high, return_inverse=True)
    per_pair = np.bincount(pair, design.count)
    weight = design.weight / np.maximum(per_pair[pair], min_pair_count)
    weight *= design.count.sum() / float((design.count * weight).sum())
    return replace(design, weight=weight)


def _stats_for_side(
    frame: pd.DataFrame, side: str, stats: Sequence[str], count_tokens: Callable[[str], int] | None
) -> FloatArray:
    """(battles, stats) counts for one side: the stats columns, else counted from the text."""
    have = np.full((len(frame), len(stats)), np.nan)
    for j, stat in enumerate(stats):
        column = f"{stat}_{side}"
        if column in frame.columns:
            have[:, j] = frame[column].to_numpy(dtype=float)
    text_column = f"response_{side}"
    if text_column in frame.columns:
        texts = frame[text_column].to_numpy(dtype=object)
        for i in np.flatnonzero(np.isnan(have).any(axis=1)):
            text = texts[i]
            if text is None or (isinstance(text, float) and math.isnan(text)):
                continue
            counts = style_counts(str(text), count_tokens)
            for j, stat in enumerate(stats):
                if math.isnan(have[i, j]):
                    have[i, j] = counts[stat]
    return have


def style_design(
    battles: Battles,
    *,
    features: Sequence[str] = STYLE_STATS,
    count_tokens: Callable[[str], int] | None = None,
) -> StyleDesign:
    """Style features for every battle, from stats columns or from the response texts."""
    unknown = sorted(set(features) - set(STYLE_STATS))
    if unknown:
        raise LmauditError(f"unknown style feature(s) {', '.join(unknown)}; known: {STYLE_STATS}")
    positive = battles.frame["count"].to_numpy() > 0
    frame = battles.frame if positive.all() else battles.frame[positive].reset_index(drop=True)
    side_a = _stats_for_side(frame, "a", features, count_tokens)
    side_b = _stats_for_side(frame, "b", features, count_tokens)
    missing = np.isnan(side_a).any(axis=1) | np.isnan(side_b).any(axis=1)
    if missing.any():
        where = ", ".join(frame["location"].iloc[np.flatnonzero(missing)[:MAX_LISTED_ROWS]])
        raise LmauditError(
            f"{battles.source}: style control needs response_a/response_b or the style "
            f"statistics ({', '.join(f'{s}_a/{s}_b' for s in features)}); "
            f"{int(missing.sum())} battle(s) have neither, e.g. {where}"
        )
    raw = normalized_difference(side_a, side_b)
    count = frame["count"].to_numpy(dtype=float)
    mean = np.average(raw, axis=0, weights=count)
    std = np.sqrt(np.average((raw - mean) ** 2, axis=0, weights=count))
    usable = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    names = tuple(f for f, ok in zip(features, usable, strict=True) if ok)
    dropped = tuple(f for f, ok in zip(features, usable, strict=True) if not ok)
    if not names:
        raise LmauditError(f"{battles.source}: every style feature is constant over the battles")
    standardized = (raw[:, usable] - mean[usable]) / std[usable]
    models, index_a, index_b = model_codes(frame)
    return StyleDesign(
        models=models,
        a=index_a,
        b=index_b,
        score=np.array([1.0, 0.0, 0.5, 0.5])[winner_codes(frame)],
        count=count,
        weight=frame["weight"].to_numpy(dtype=float),
        features=np.ascontiguousarray(standardized),
        names=names,
        mean=mean[usable],
        std=std[usable],
        dropped=dropped,
    )
