"""Benchmark: multiple-choice loglikelihood, lmaudit vs lm-evaluation-harness 0.4.13.

Builds everything locally (no downloads besides PyPI for lm-eval's virtual environment):
a synthetic multiple-choice set (default 500 questions, 4 options, contexts of 100-300
tokens), a small random GPT-2 model with a trained byte-level BPE tokenizer (bench/out/),
and the same task as an lm-eval YAML and an lmaudit YAML. Runs `lm_eval --model hf`,
`lmaudit run --model hf:DIR`, and HFBackend driven directly, each as its own process timed
end to end (imports, model load, scoring, writing results), checks that every per-option
loglikelihood agrees with lm-eval's within 1e-3 nats, and prints the time ratios.

    .venv/bin/python bench/mc_loglikelihood.py [--questions 500] [--batch-size 16] [--threads 1]

Both tools get the same batch size, dtype (float32), device (CPU) and torch threads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "mc_loglikelihood"
VENV = ROOT / "bench" / ".venvs" / "lm-eval"
LM_EVAL_VERSION = "0.4.13"
TORCH_VERSION = "2.13.0"
TASK_NAME = "lmaudit_bench_mc"
TOLERANCE = 1e-3  # nats, per option


def make_words(n: int = 6000, seed: int = 2) -> list[str]:
    """`n` distinct pseudo-words of 1-4 syllables: a vocabulary rich enough for an 8k BPE."""
    rng = random.Random(seed)
    onsets = ["", "b", "br", "d", "f", "g", "gr", "k", "l", "m", "n", "p", "pl", "r", "s", "st"]
    onsets += ["t", "tr", "v", "z", "sh", "ch", "th"]
    vowels, codas = ["a", "e", "i", "o", "u", "ai", "ou", "ea"], ["", "", "n", "r", "s", "l", "t"]
    words: set[str] = set()
    while len(words) < n:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add(
            "".join(
                rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                for _ in range(syllables)
            )
        )
    return sorted(words)


WORDS = make_words()


def lmaudit_command(task: Path, model_dir: Path, run_dir: Path, batch_size: int) -> list[str]:
    """`lmaudit run` end to end: task YAML in, run directory (samples.parquet) out."""
    return [
        str(Path(sys.executable).parent / "lmaudit"), "run",
        "--model", f"hf:{model_dir}", "--task", str(task),
        "--dtype", "float32", "--device", "cpu", "--batch-size", str(batch_size),
        "--out", str(run_dir), "--no-progress",
    ]  # fmt: skip


def direct_command(data: Path, model_dir: Path, out: Path, batch_size: int) -> list[str]:
    """HFBackend driven directly (no task, runner or run store): the backend's share."""
    return [
        sys.executable, __file__, "--lmaudit-worker",
        str(data), str(model_dir), str(out), str(batch_size),
    ]  # fmt: skip


def lmaudit_worker(data: Path, model_dir: Path, out: Path, batch_size: int) -> None:
    """Score every option with HFBackend; write {doc index: [loglikelihood per option]}."""
    from lmaudit.backends.hf import HFBackend
    from lmaudit.core.types import LoglikelihoodRequest

    docs = [json.loads(line) for line in data.read_text().splitlines()]
    backend = HFBackend(str(model_dir), dtype="float32", device="cpu", batch_size=batch_size)
    requests = [
        LoglikelihoodRequest(context=doc["prompt"], continuation=" " + choice)
        for doc in docs
        for choice in doc["choices"]
    ]
    results = iter(backend.loglikelihood(requests))
    scores = {i: [next(results).logprob for _ in doc["choices"]] for i, doc in enumerate(docs)}
    out.write_text(json.dumps(scores))


def random_words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_tokenizer(directory: Path) -> object:
    """A byte-level BPE tokenizer (8192 entries) trained on random text over WORDS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(1)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8192,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [f"Passage: {random_words(rng, 50)}\nQuestion: {random_words(rng, 5)}?\nAnswer:"]
    tok.train_from_iterator(corpus * 20 + [random_words(rng, 200) for _ in range(1000)], trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def make_data(path: Path, tokenizer: object, n_questions: int, seed: int = 0) -> None:
    """Questions whose prompt is 100-300 tokens long (uniform), with four 1-5 word options."""
    rng = random.Random(seed)
    encode = tokenizer.encode  # type: ignore[attr-defined]
    lines = []
    for _ in range(n_questions):
        target = rng.randint(100, 300)
        question = f"\nQuestion: {random_words(rng, rng.randint(4, 10))}?\nAnswer:"
        passage = "Passage:"
        while len(encode(passage + question)) < target:
            passage += " " + rng.choice(WORDS)
        choices = [random_words(rng, rng.randint(1, 5)) for _ in range(4)]
        doc = {"prompt": passage + question, "choices": choices, "label": rng.randrange(4)}
        lines.append(json.dumps(doc) + "\n")
    path.write_text("".join(lines))


def make_model(directory: Path, tokenizer: object) -> None:
    """A random 4-layer GPT-2 (d=256, ~3.4M parameters) saved next to its tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        n_positions=512,
        n_embd=256,
        n_layer=4,
        n_head=4,
        initializer_range=0.05,
        bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")


def ensure_lm_eval_venv() -> Path:
    """bench/.venvs/lm-eval with torch (CPU wheel, pinned first) and lm_eval[hf]."""
    lm_eval = VENV / "bin" / "lm_eval"
    python = VENV / "bin" / "python"
    if lm_eval.exists():
        return lm_eval
    transformers_version = metadata.version("transformers")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"torch=={TORCH_VERSION}"], check=True)
    subprocess.run(
        [*pip, f"lm_eval[hf]=={LM_EVAL_VERSION}", f"transformers=={transformers_version}"],
        check=True,
    )
    return lm_eval


def write_tasks(directory: Path, data: Path) -> Path:
    """The same task for both tools: context = prompt, continuation = " " + option.

    Writes the lm-eval task into `directory` and returns the lmaudit task file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{TASK_NAME}.yaml").write_text(
        f"task: {TASK_NAME}\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: prompt\n"
        "doc_to_choice: choices\n"
        "doc_to_target: label\n"
        'target_delimiter: " "\n'
        "metric_list:\n  - metric: acc\n"
    )
    lmaudit_task = directory.parent / f"{TASK_NAME}.lmaudit.yaml"
    lmaudit_task.write_text(
        f"name: {TASK_NAME}\n"
        "type: multiple_choice\n"
        f"dataset: {{path: {data}}}\n"
        'prompt: "{prompt}"\n'
        "choices: choices\n"
        "target: label\n"
        "target_kind: index\n"
        'target_delimiter: " "\n'
    )
    return lmaudit_task


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `command`; return (wall seconds, CPU seconds user + system of the process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def read_lm_eval(results: Path) -> dict[int, list[float]]:
    files = sorted(results.rglob(f"samples_{TASK_NAME}_*.jsonl"))
    if not files:
        sys.exit(f"no lm-eval samples log under {results}")
    scores = {}
    for line in files[-1].read_text().splitlines():
        sample = json.loads(line)
        scores[int(sample["doc_id"])] = [float(r[0]) for r in sample["filtered_resps"]]
    return scores


def read_lmaudit_run(run_dir: Path) -> dict[int, list[float]]:
    import pandas as pd

    samples = pd.read_parquet(run_dir / "samples.parquet", columns=["sample_id", "choice_logprobs"])
    pairs = zip(samples["sample_id"], samples["choice_logprobs"], strict=True)
    return {int(i): [float(x) for x in lps] for i, lps in pairs}


def read_direct(path: Path) -> dict[int, list[float]]:
    return {int(k): v for k, v in json.loads(path.read_text()).items()}


def compare(name: str, ours: dict[int, list[float]], reference: dict[int, list[float]]) -> float:
    if sorted(reference) != sorted(ours):
        sys.exit(f"lm-eval and {name} scored different documents")
    gaps = [abs(a - b) for i in ours for a, b in zip(ours[i], reference[i], strict=True)]
    print(f"{name}: {len(gaps)} options compared; max |{name} - lm-eval| = {max(gaps):.2e} nats")
    return max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for both tools (default 1: stable timings on a shared machine; "
        "0 = torch's default, which suffers badly from oversubscription when other "
        "processes load the CPUs)",
    )
    parser.add_argument("--lmaudit-worker", nargs=4, metavar=("DATA", "MODEL", "OUT", "BS"))
    args = parser.parse_args()
    if args.lmaudit_worker:
        data, model_dir, out, bs = args.lmaudit_worker
        lmaudit_worker(Path(data), Path(model_dir), Path(out), int(bs))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    data, model_dir = OUT / "questions.jsonl", OUT / "model"
    tokenizer = make_tokenizer(model_dir)
    make_data(data, tokenizer, args.questions)
    make_model(model_dir, tokenizer)
    lmaudit_task = write_tasks(OUT / "tasks", data)
    lm_eval = ensure_lm_eval_venv()
    env = {
        "PATH": f"{lm_eval.parent}:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_DATASETS_CACHE": str(OUT / "hf_datasets_cache"),
    }
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    threads = args.threads or "torch default"
    print(f"cpus: {os.cpu_count()}; threads: {threads}; load average: {os.getloadavg()[0]:.2f}")
    lm_eval_out = OUT / "lm_eval_results"
    lm_eval_time = timed(
        [
            str(lm_eval), "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", TASK_NAME, "--include_path", str(OUT / "tasks"),
            "--device", "cpu", "--batch_size", str(args.batch_size),
            "--log_samples", "--output_path", str(lm_eval_out),
        ],
        env,
    )  # fmt: skip
    run_dir = OUT / "lmaudit_run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a left-over run would be resumed, not redone
    lmaudit_time = timed(lmaudit_command(lmaudit_task, model_dir, run_dir, args.batch_size), env)
    direct_out = OUT / "direct_scores.json"
    direct_time = timed(direct_command(data, model_dir, direct_out, args.batch_size), env)
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes share these CPUs)")

    reference = read_lm_eval(lm_eval_out)
    worst = max(
        compare("lmaudit run", read_lmaudit_run(run_dir), reference),
        compare("HFBackend", read_direct(direct_out), reference),
    )
    rows = [
        (f"lm-eval {LM_EVAL_VERSION} (lm_eval --model hf)", lm_eval_time),
        ("lmaudit run --model hf:DIR", lmaudit_time),
        ("HFBackend alone (python -c)", direct_time),
    ]
    for name, (wall, cpu) in rows:
        print(f"{name:<40} {wall:7.1f} s wall {cpu:7.1f} s CPU  (end to end)")
    print(
        f"speed-up of lmaudit run: {lm_eval_time[0] / lmaudit_time[0]:.2f}x wall, "
        f"{lm_eval_time[1] / lmaudit_time[1]:.2f}x CPU time (CPU time is less sensitive "
        "to other load on the machine)"
    )
    if worst > TOLERANCE:
        sys.exit(f"FAIL: loglikelihoods differ by more than {TOLERANCE} nats")


if __name__ == "__main__":
    main()
