"""What a best-of-N point's verifier cost, added to the cost of its answers.

Per verifier (by its label in the run's task spec `verifiers`, numbered as
`verifiers.numbered_labels` numbers them):

- `oracle` and `self`: nothing to add (the oracle is the upper bound that knows the
  answer; self-confidence reads the answers' own log-probabilities);
- `judge`: the tokens its backend counted for the first k answers of each problem (stored
  per answer, `extra.verifier_tokens`): in a frontier drawn in tokens, added as tokens; in
  USD, priced at the judge model's own price (`--price JUDGE=IN,OUT`, exact name or glob);
  not included (said per point) when the judge recorded no tokens or has no price;
- `reward` and anything else: not included (its compute is not recorded), said per point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.core.usage import Price, find_price
from lmaudit.report.compute_model import TOKENS
from lmaudit.verifiers import numbered_labels


def verifier_specs(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """label → spec of each verifier of a run (`verifiers.numbered_labels`)."""
    specs = [s for s in (manifest.get("task_spec") or {}).get("verifiers") or []
             if isinstance(s, Mapping)]
    return dict(zip(numbered_labels([str(s.get("kind")) for s in specs]), specs, strict=True))


def _judge_tokens(frame: pd.DataFrame, label: str, k: int) -> np.ndarray | None:
    """Per problem, [prompt, completion] tokens the judge spent on the first k answers;
    None when any row lacks them."""
    if "extra" not in frame.columns:
        return None
    rows = []
    for raw in frame["extra"].tolist():
        extra = json.loads(raw) if isinstance(raw, str) else {}
        counts = (extra.get("verifier_tokens") or {}).get(label)
        if not isinstance(counts, list) or len(counts) < k:
            return None
        rows.append([sum(float(c[0]) for c in counts[:k]), sum(float(c[1]) for c in counts[:k])])
    return np.asarray(rows, dtype=float).reshape(-1, 2)


def verifier_cost(frame: pd.DataFrame, manifest: Mapping[str, Any], label: str, k: int,
                  unit: str, prices: Mapping[str, Price]) -> tuple[np.ndarray | None, str]:
    """(per-problem cost in `unit` to add, or None when not included; the point's line
    saying what was done) for verifier `label` over the first k answers (module docstring)."""
    spec = verifier_specs(manifest).get(label) or {}
    kind = spec.get("kind")
    if kind in ("oracle", "self"):
        return np.zeros(len(frame)), f"verifier {label}: no cost of its own"
    if kind != "judge":
        return None, f"verifier cost not included ({label}: its compute is not recorded)"
    model = str(spec.get("model") or "?")
    tokens = _judge_tokens(frame, label, k)
    if tokens is None:
        return None, f"verifier cost not included (judge {model} recorded no token usage)"
    if unit == TOKENS:
        return tokens.sum(axis=1), f"+ judge {model} tokens"
    price = find_price(prices, list(dict.fromkeys([model, model.split("@")[0]])))
    if price is None:
        return None, (f"verifier cost not included (no price for judge {model}: give "
                      f"--price {model}=IN,OUT)")
    return ((tokens[:, 0] * price.prompt + tokens[:, 1] * price.completion) / 1e6,
            f"+ judge {model} at its price")
