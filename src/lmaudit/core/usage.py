"""Tokens, latency and cost: per request, per sample and per run, and a spending limit.

Prices are US dollars per million tokens, prompt and completion separately, from a price
table (YAML: `model name or glob pattern: {prompt: USD, completion: USD}`) or given on the
command line. lmaudit ships no prices: providers change them; write yours down.

Budget rule (`CostMeter.admit`): a request is sent only if the money already spent, plus
the worst-case cost of the requests in flight, plus this request's worst case stays within
the budget. Worst case: prompt tokens estimated as UTF-8 bytes / 2 (tokenizers average
3-4 bytes per token on English text, so this over-estimates), completion tokens =
`max_tokens` (0 for loglikelihood requests, which generate nothing). The run therefore
stops *before* it could exceed the budget, never after.
"""

from __future__ import annotations

import fnmatch
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    Request,
    Response,
    Usage,
)


@dataclass(frozen=True)
class Price:
    """US dollars per million prompt tokens and per million completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


def parse_price(text: str) -> Price:
    """`"0.15,0.60"` → Price(prompt=0.15, completion=0.60)."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2 or any(v < 0 or not math.isfinite(v) for v in values):
        raise LmauditError(
            f"--price expects PROMPT,COMPLETION in USD per million tokens, got {text!r}"
        )
    return Price(values[0], values[1])


def load_price_table(path: Path) -> dict[str, Price]:
    """Read `model: {prompt: USD, completion: USD}` entries; errors name the file and entry."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise LmauditError(f"cannot read price table {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise LmauditError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, Mapping):
        raise LmauditError(f"{path}: expected a mapping of model name to prices")
    table: dict[str, Price] = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping) or not {"prompt", "completion"} <= set(entry):
            raise LmauditError(f"{path}: entry {name!r} needs `prompt` and `completion` prices")
        try:
            table[str(name)] = Price(float(entry["prompt"]), float(entry["completion"]))
        except (TypeError, ValueError) as error:
            raise LmauditError(f"{path}: entry {name!r}: prices must be numbers") from error
    return table


def find_price(table: Mapping[str, Price], names: Sequence[str]) -> Price | None:
    """The price of the first name with an exact entry, else the first glob match."""
    for name in names:
        if name in table:
            return table[name]
    for name in names:
        for pattern, price in table.items():
            if fnmatch.fnmatchcase(name, pattern):
                return price
    return None


def response_tokens(response: Response) -> tuple[int, int]:
    """(prompt, completion) tokens of an answer: its `usage`, else what a Generation counted."""
    if response.usage is not None and (
        response.usage.prompt_tokens or response.usage.completion_tokens
    ):
        return response.usage.prompt_tokens, response.usage.completion_tokens
    if isinstance(response, Generation):
        return response.prompt_tokens, response.completion_tokens
    return 0, 0


def worst_case_tokens(request: Request) -> tuple[int, int]:
    """Upper estimates of (prompt, completion) tokens, for the budget check."""
    if isinstance(request, GenerateRequest):
        text = request.prompt or "".join(m.content for m in request.messages or ())
        prompt = len(text.encode("utf-8")) // 2 + 8 * len(request.messages or ()) + 1
        return prompt, request.params.max_tokens
    text = (
        request.context + request.continuation
        if isinstance(request, LoglikelihoodRequest)
        else request.text
    )
    return len(text.encode("utf-8")) // 2 + 1, 1


class BudgetExhausted(LmauditError):
    """The next request could exceed `--max-cost`; the run stopped before sending it."""


class CostMeter:
    """Tracks spending and admits a request only if it cannot break the budget.

    Thread-safe: a backend may call `admit` from its own thread while the runner
    `settle`s answers. `budget=None` admits everything and only counts.
    """

    def __init__(self, price: Price | None, budget: float | None = None) -> None:
        if budget is not None and price is None:
            raise LmauditError("--max-cost needs a price for the model: give --price or --prices")
        self.price = price
        self.budget = budget
        self.spent = 0.0
        self.refused = 0
        self._reserved: dict[int, float] = {}
        self._lock = threading.Lock()

    def admit(self, request: Request) -> bool:
        if self.price is None or self.budget is None:
            return True
        worst = self.price.cost(*worst_case_tokens(request))
        with self._lock:
            if self.spent + sum(self._reserved.values()) + worst > self.budget:
                self.refused += 1
                return False
            self._reserved[id(request)] = self._reserved.get(id(request), 0.0) + worst
        return True

    def settle(self, request: Request, response: Response) -> float:
        """Book what an answer really cost (nothing when it came from a cache)."""
        cost = 0.0
        usage = response.usage
        if self.price is not None and not (usage is not None and usage.cached):
            cost = self.price.cost(*response_tokens(response))
        with self._lock:
            self._reserved.pop(id(request), None)
            self.spent += cost
        return cost


def usage_summary(
    responses: Sequence[Response], price: Price | None, spent: float | None = None
) -> dict[str, Any]:
    """Run totals: requests, cache hits, tokens, latency percentiles (seconds), cost (USD).

    Tokens count every answer (cached ones too: that is what the run consumed); latency
    and cost count only answers fetched in this run.
    """
    fresh = [r for r in responses if not (r.usage is not None and r.usage.cached)]
    prompt = sum(response_tokens(r)[0] for r in responses)
    completion = sum(response_tokens(r)[1] for r in responses)
    latencies = np.array(
        [r.usage.latency_s for r in fresh if r.usage is not None and r.usage.latency_s > 0]
    )
    summary: dict[str, Any] = {
        "requests": len(responses),
        "cached": len(responses) - len(fresh),
        "prompt_tokens": int(prompt),
        "completion_tokens": int(completion),
    }
    if latencies.size:
        p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
        summary.update(
            latency_p50_s=round(float(p50), 4),
            latency_p90_s=round(float(p90), 4),
            latency_p99_s=round(float(p99), 4),
        )
    if price is not None:
        fresh_cost = sum(price.cost(*response_tokens(r)) for r in fresh)
        summary["cost_usd"] = round(spent if spent is not None else fresh_cost, 6)
        summary["price_usd_per_million"] = {"prompt": price.prompt, "completion": price.completion}
    return summary


def sample_usage(responses: Sequence[Response]) -> Usage:
    """Summed tokens and latency of one sample's answers."""
    prompt = completion = 0
    latency = 0.0
    for response in responses:
        p, c = response_tokens(response)
        prompt += p
        completion += c
        if response.usage is not None:
            latency += response.usage.latency_s
    return Usage(prompt, completion, latency)
