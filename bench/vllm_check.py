"""Check: the vLLM backend against the HF backend on one GPU (needs vLLM and CUDA).

Loads a model (hub id or local directory) with both backends, scores the same synthetic
loglikelihood requests (contexts of 10-300 words, continuations of 1-4 words) and a few
rolling documents longer than the model window, and prints the largest absolute difference
in nats, the agreement of `is_greedy`, and each backend's throughput (requests and prompt
tokens per second, after one warm-up batch). Exits 1 when a difference exceeds --tolerance.

    python bench/vllm_check.py gpt2 [--requests 300] [--dtype float32] [--max-model-len 1024]

The HF backend gets `max_length = max_model_len - 2`, the window the vLLM backend scores
with, so both see the same tokens (see lmaudit.backends.vllm_outputs).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

VOCABULARY = """
    the of and to in is was for on that with as by at from his her they this which year city
    river music game team school church house water light power market field history science
    language family village station island season record album small large early later first
    second new old long short high low north south began became found played moved built
    wrote opened called named known used held because after before during while where when
    although since until about around people country government company system region
    service series result number area
"""
WORDS = VOCABULARY.split()


def synthetic_requests(n: int, seed: int) -> list[Any]:
    from lmaudit.core.types import LoglikelihoodRequest

    rng = random.Random(seed)
    requests = []
    for _ in range(n):
        context = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 300)))
        continuation = " " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        requests.append(LoglikelihoodRequest(context.capitalize(), continuation))
    return requests


def rolling_requests(n: int, words: int, seed: int) -> list[Any]:
    from lmaudit.core.types import RollingLoglikelihoodRequest

    rng = random.Random(seed + 1)
    return [
        RollingLoglikelihoodRequest(" ".join(rng.choice(WORDS) for _ in range(words)))
        for _ in range(n)
    ]


def timed(label: str, backend: Any, requests: list[Any], prompt_tokens: int) -> list[Any]:
    backend.loglikelihood(requests[:8])  # warm-up
    start = time.perf_counter()
    results = backend.loglikelihood(requests)
    seconds = time.perf_counter() - start
    print(
        f"{label:>5}: {len(requests) / seconds:9.1f} requests/s "
        f"{prompt_tokens / seconds:11.0f} prompt tokens/s ({seconds:.2f} s)"
    )
    return list(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="hub id or local model directory")
    parser.add_argument("--requests", type=int, default=300, help="loglikelihood requests")
    parser.add_argument("--rolling", type=int, default=8, help="rolling documents")
    parser.add_argument("--dtype", default="float32", help="both backends (default float32)")
    parser.add_argument("--max-model-len", type=int, help="vLLM max_model_len (default: model's)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=32, help="HF backend batch size")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="nats per request")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from lmaudit.backends.hf import HFBackend
    from lmaudit.backends.vllm_backend import VLLMBackend
    from lmaudit.backends.vllm_outputs import scoring_max_length

    if not torch.cuda.is_available():
        print("no CUDA GPU: this check needs one", file=sys.stderr)
        return 2
    requests = synthetic_requests(args.requests, args.seed)
    vllm_backend = VLLMBackend(
        args.model,
        dtype=args.dtype,
        max_model_len=args.max_model_len,
        gpu_memory_utilization=args.gpu_memory_utilization,
        seed=args.seed,
    )
    window = vllm_backend.max_model_len
    prompt_tokens = sum(
        min(window - 1, len(p.context) + len(p.continuation))
        for p in map(vllm_backend.tokenize_pair, requests)
    )
    documents = rolling_requests(args.rolling, words=2 * window, seed=args.seed)
    print(f"model {args.model}, dtype {args.dtype}, max_model_len {window}")
    ours = timed("vllm", vllm_backend, requests, prompt_tokens)
    ours_rolling = vllm_backend.loglikelihood_rolling(documents)
    hf = HFBackend(
        args.model,
        dtype=args.dtype,
        device="cuda",
        batch_size=args.batch_size,
        max_length=scoring_max_length(window),
    )
    theirs = timed("hf", hf, requests, prompt_tokens)
    theirs_rolling = hf.loglikelihood_rolling(documents)

    diffs = [abs(a.logprob - b.logprob) for a, b in zip(ours, theirs, strict=True)]
    greedy_agree = sum(a.is_greedy == b.is_greedy for a, b in zip(ours, theirs, strict=True))
    tokens_agree = all(a.n_tokens == b.n_tokens for a, b in zip(ours, theirs, strict=True))
    rolling_diffs = [
        abs(a.logprob - b.logprob) / max(1, a.n_tokens)
        for a, b in zip(ours_rolling, theirs_rolling, strict=True)
    ]
    summary = {
        "max_abs_diff_nats": max(diffs),
        "mean_abs_diff_nats": sum(diffs) / len(diffs),
        "is_greedy_agreement": greedy_agree / len(diffs),
        "same_token_counts": tokens_agree,
        "rolling_max_abs_diff_nats_per_token": max(rolling_diffs, default=0.0),
    }
    print(json.dumps(summary, indent=2))
    ok = max(diffs) <= args.tolerance and tokens_agree
    print("PASS" if ok else f"FAIL: differences above {args.tolerance} nats")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
