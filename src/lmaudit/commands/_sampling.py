"""The repeated-sampling options of `lmaudit run` and `lmaudit score`: `--samples`,
`--temperature`, `--top-p`, `--verifier` (and `run`'s `--seed` as the first sample's seed)."""

from __future__ import annotations

import argparse
from typing import Any

from lmaudit.tasks.sampled import DEFAULT_TEMPERATURE, sampled_task

__all__ = ["add_sampling_options", "sampled_task", "sampling_invocation"]


def add_sampling_options(parser: argparse.ArgumentParser, *, generation: bool = True) -> None:
    """Add the options (`generation=False`: only `--verifier`, for stored answers)."""
    import textwrap

    from lmaudit.verifiers import VERIFIER_HELP

    about = (
        "N answers per problem, every one stored and scored; reports avg@N, unbiased pass@k "
        "and maj@k for k = 1, 2, 4, ... N, the vote share's Brier score, and best-of-N per "
        "verifier, each with an interval clustered by problem. Sample i uses seed --seed + i, "
        "so a rerun draws the same samples on backends that honour seeds."
        if generation else
        "Several stored answers per problem (a `responses` list, or repeated ids with a "
        "`sample_index`): best-of-N per verifier beside pass@k and maj@k."
    )
    group = parser.add_argument_group(
        "repeated sampling (any generation task)" if generation else "stored samples",
        textwrap.fill(about, 78),
    )
    if generation:
        group.add_argument("--samples", type=int, metavar="N",
                           help="answers per problem (default 1)")
        group.add_argument("--temperature", type=float, metavar="T",
                           help=f"sampling temperature (default {DEFAULT_TEMPERATURE} with "
                           "--samples above 1, else 0: greedy)")
        group.add_argument("--top-p", type=float, metavar="P",
                           help="nucleus sampling: keep the smallest token set with this "
                           "probability mass (default 1: all)")
    group.add_argument("--verifier", action="append", metavar="SPEC", help=VERIFIER_HELP)


def sampling_invocation(args: argparse.Namespace) -> dict[str, Any] | None:
    """What the sampling options of `args` say, as stored in a run's invocation (None when
    none was given, so a plain run's invocation stays as before)."""
    given = {"samples": getattr(args, "samples", None),
             "temperature": getattr(args, "temperature", None),
             "top_p": getattr(args, "top_p", None)}
    verifiers = list(getattr(args, "verifier", None) or [])
    if all(v is None for v in given.values()) and not verifiers:
        return None
    samples = 1 if given["samples"] is None else given["samples"]  # 0 is refused, not 1
    temperature = given["temperature"]
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE if samples > 1 else 0.0
    found: dict[str, Any] = {"samples": samples, "temperature": temperature,
                             "top_p": 1.0 if given["top_p"] is None else given["top_p"]}
    if verifiers:
        found["verifiers"] = verifiers
    return found
