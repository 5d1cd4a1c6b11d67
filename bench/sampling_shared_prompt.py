"""Benchmark: N samples per prompt on the HF backend, shared prompt computation vs N
independent requests.

Builds a small random GPT-2 (4 layers, d=256) with a locally trained BPE tokenizer (as
`bench/mc_loglikelihood.py` does; nothing is downloaded), then for P prompts of ~200 tokens
draws N seeded samples each (temperature 1, top-p 0.95, `--max-tokens` new tokens):

- independent: every sample is its own `HFBackend.generate` call (its own prefill);
- per-seed batches: what the backend did before sharing: one `model.generate` batch per
  seed across the P prompts (each prompt prefilled N times);
- shared: one `generate` call with all P x N requests (one prefill per prompt, the cache
  copied per sample; `hf_generate.sample_shared_prompts`).

Checks that a rerun of the shared path gives exactly the same samples (the run fails
otherwise), counts the shared samples equal to the independent ones (a batch of 16 rows
and a batch of one compute logits that differ in the last bits, which can flip a draw
between near-equal tokens of this random model), then prints the times and the ratios.

    .venv/bin/python bench/sampling_shared_prompt.py [--prompts 4] [--samples 16] [--threads 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mc_loglikelihood import WORDS, make_model, make_tokenizer

OUT = Path(__file__).resolve().parent / "out" / "sampling_shared_prompt"


def make_prompts(tokenizer: object, n: int, tokens: int, seed: int = 0) -> list[str]:
    """`n` prompts of about `tokens` tokens of pseudo-words."""
    rng = random.Random(seed)
    encode = tokenizer.encode  # type: ignore[attr-defined]
    prompts = []
    for _ in range(n):
        text = "Passage:"
        while len(encode(text)) < tokens:
            text += " " + rng.choice(WORDS)
        prompts.append(text + "\nAnswer:")
    return prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from lmaudit.backends.hf import HFBackend
    from lmaudit.backends.hf_generate import eos_token_ids, generate_batch
    from lmaudit.core.types import GenerateRequest, GenerationParams

    torch.set_num_threads(args.threads)
    model_dir = OUT / "model"
    if not (model_dir / "config.json").exists():
        model_dir.mkdir(parents=True, exist_ok=True)
        make_model(model_dir, make_tokenizer(model_dir))
    backend = HFBackend(str(model_dir), dtype="float32", device=args.device,
                        batch_size=args.samples)
    prompts = make_prompts(backend.tokenizer, args.prompts, args.prompt_tokens)
    requests = [
        GenerateRequest(prompt=p, params=GenerationParams(args.max_tokens, 1.0, 0.95, seed=s))
        for p in prompts for s in range(args.samples)
    ]
    backend.generate(requests[:2])  # warm-up

    start = time.perf_counter()
    independent = [backend.generate([r])[0] for r in requests]
    t_independent = time.perf_counter() - start

    ids = [backend.tokenizer.encode(p) for p in prompts]
    eos = eos_token_ids(backend.model, backend.tokenizer)
    start = time.perf_counter()
    with torch.inference_mode():
        for s in range(args.samples):
            generate_batch(backend.model, backend.tokenizer, ids, requests[s].params,
                           pad_id=backend._pad_id, eos_ids=eos)
    t_per_seed = time.perf_counter() - start

    start = time.perf_counter()
    shared = backend.generate(requests)
    t_shared = time.perf_counter() - start
    rerun = backend.generate(requests)

    same_as_independent = sum(a == b for a, b in zip(shared, independent, strict=True))
    reproducible = rerun == shared
    distinct = len({g.text for g in shared[: args.samples]})
    print(f"torch {torch.__version__}, device {args.device}, threads {args.threads}; "
          f"{args.prompts} prompts x {args.samples} samples, prompt ~{args.prompt_tokens} "
          f"tokens, up to {args.max_tokens} new tokens")
    print(f"independent requests: {t_independent:8.2f} s")
    print(f"per-seed batches:     {t_per_seed:8.2f} s")
    print(f"shared prompt:        {t_shared:8.2f} s")
    print(f"speed-up vs independent requests: {t_independent / t_shared:.1f}x (goal >= 3x)")
    print(f"speed-up vs per-seed batches:     {t_per_seed / t_shared:.1f}x")
    print(f"shared samples equal to the independent ones: {same_as_independent}/"
          f"{len(shared)}; "
          f"rerun identical: {reproducible}; distinct texts of prompt 0: "
          f"{distinct}/{args.samples}")
    if not reproducible:
        raise SystemExit("a rerun with the same seeds gave other samples")


if __name__ == "__main__":
    main()
