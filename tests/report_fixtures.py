"""Real run, probe, contamination and audit directories for the report tests.

Everything is written by the project's own code (run_task, run_probe, the contamination
report writers) with scripted backends whose outcome is known:

- `lab:clean` solves 70% of arith items by a fixed rule on the question text, originals and
  fresh variants alike (no probe drop);
- `lab:dirty` answers only the test questions it memorized (100% on originals, 0% on fresh
  variants: a drop of 100 points).

Contamination directories come from `build_report` on synthetic per-token log-probs: the
dirty model's test items are much more likely than its ref items (strong evidence), the
clean model's are drawn alike. The clean model's first answer is a script-injection string.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from lmaudit.contamination.likelihood_run import ItemLikelihood
from lmaudit.contamination.report import build_report, report_dict, write_report
from lmaudit.contamination.verdicts import OperatingCharacteristics
from lmaudit.core.runner import run_task
from lmaudit.core.store import base_manifest
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Usage,
)
from lmaudit.probes.runner import build_probe_samples, run_probe
from lmaudit.tasks import arith
from lmaudit.tasks.registry import load_task

INJECTION = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> 7'
LIMIT = 100
SETS = 5


def _question(prompt: str) -> str:
    return prompt.split("Question: ", 1)[-1].split("\nAnswer:", 1)[0]


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class ScriptedBackend:
    """Answers from a function of the question; log-likelihood 0 for the answer it would
    give and -1.5 for any other option."""

    def __init__(self, name: str, answer: Callable[[str], str]) -> None:
        self.name = name
        self.answer = answer

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE, RequestKind.LOGLIKELIHOOD})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", self.name, "v1", "none")

    def generate(self, requests: Sequence[GenerateRequest], progress: object = None
                 ) -> list[Generation]:
        return [Generation(" " + self.answer(_question(r.prompt or "")), "stop", 20, 2,
                           usage=Usage(20, 2, 0.001)) for r in requests]

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest], progress: object = None
                      ) -> list[LoglikelihoodResult]:
        return [LoglikelihoodResult(
            0.0 if r.continuation.strip() == self.answer(_question(r.context)) else -1.5,
            True, 1, usage=Usage(20, 0, 0.001)) for r in requests]

    def loglikelihood_rolling(self, requests: Sequence[RollingLoglikelihoodRequest],
                              progress: object = None) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError


def _answers() -> dict[str, str]:
    """Correct answers of the first LIMIT test items and their symbolic variants."""
    task = load_task("arith", {})
    samples, _ = build_probe_samples(task.samples()[:LIMIT], ["symbolic"], n_sets=SETS)
    answers = {_question(s.input): str(s.target) for s in samples}
    mc = load_task("arith_mc", {}).samples()[:LIMIT]
    for s in mc:
        assert s.choices is not None
        answers.setdefault(_question(s.input), s.choices[int(s.target)])
    return answers


def clean_backend(skill: float = 0.7) -> ScriptedBackend:
    """Right on a fixed `skill` share of questions (by hash), wrong by one elsewhere."""
    answers = _answers()
    first = _question(load_task("arith", {}).samples()[0].input)

    def answer(question: str) -> str:
        if question == first:
            return INJECTION
        right = answers.get(question, "0")
        return right if _unit(question) < skill else str(int(float(right or 0)) + 1)

    return ScriptedBackend("clean", answer)


def dirty_backend() -> ScriptedBackend:
    seen = {item.question: item.answer for item in arith.load_split("test")}
    return ScriptedBackend("dirty", lambda q: seen.get(q, "0"))


def make_run(out: Path, task: str, backend: ScriptedBackend, spec: str) -> Path:
    run_task(load_task(task, {}), backend, out, limit=LIMIT, model_spec=spec,
             show_progress=False)
    return out


def make_probe(out: Path, backend: ScriptedBackend, spec: str) -> Path:
    run_probe(load_task("arith", {}), backend, out, variants=("symbolic", "noop"),
              n_sets=SETS, limit=LIMIT, model_spec=spec, show_progress=False, plot=False)
    return out


def make_contamination(out: Path, spec: str, contaminated: bool, seed: int = 0) -> Path:
    """A contamination-test directory (manifest, results.json, report.json/md)."""
    rng = random.Random(seed)
    items = []
    for split in ("test", "ref"):
        for i in range(60):
            shift = -0.8 if contaminated and split == "test" else 0.0
            lps = tuple(min(-0.01, rng.gauss(-2.0 - shift, 0.4)) for _ in range(30))
            items.append(ItemLikelihood(f"{split}-{i}", split, f"item number {i}", lps))
    # the validation lab's measured detector figures, as `contamination validate` installs
    operating = {"delta1": OperatingCharacteristics(0.93, 0.41, 0.66, 0.90, 0.96,
                                                    "lab, 32 exposures"),
                 "min_k": OperatingCharacteristics(0.88, 0.22, 0.50, 0.84, 0.92,
                                                   "lab, 32 exposures")}
    report = build_report(items, benchmark="arith", model=spec, n_boot=300,
                          n_permutations=2000, seed=seed, operating=operating)
    out.mkdir(parents=True, exist_ok=True)
    manifest = base_manifest(
        kind="contamination-test", benchmark="arith", model=spec,
        fingerprint={"backend": "scripted", "model": spec, "revision": "v1", "dtype": "none"},
        settings={"seed": seed})
    (out / "manifest.json").write_text(json.dumps(manifest, default=str))
    (out / "results.json").write_text(json.dumps(report_dict(report), default=str))
    write_report(out, report)
    return out


def make_scan(out: Path, leaked: int = 3) -> Path:
    """A corpus scan (8-grams) of the first LIMIT arith test items against a corpus that
    holds the first `leaked` of them verbatim, as `lmaudit audit` runs it."""
    from lmaudit.contamination.items import benchmark_grams
    from lmaudit.contamination.matching import ReadOptions
    from lmaudit.contamination.scan import ScanConfig, scan_corpus
    from lmaudit.contamination.scan_report import write_scan_run

    # arith's metadata "fields" hold the template id, not the text: scan the question itself
    samples = [dataclasses.replace(s, metadata={})
               for s in load_task("arith", {}).samples()[:LIMIT]]
    corpus = out.parent / f"{out.name}-corpus.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    with corpus.open("w") as handle:
        for i, sample in enumerate(samples[:leaked]):
            handle.write(json.dumps({"id": f"doc{i}", "text": sample.input + " "
                                     + str(sample.target)}) + "\n")
        handle.write(json.dumps({"id": "filler", "text": "nothing to see here " * 20}) + "\n")
    config = ScanConfig(n=8, span=6, workers=1, read=ReadOptions("text", "id"))
    result = scan_corpus(benchmark_grams(samples, config.n, config.span), [str(corpus)], config)
    write_scan_run(out, result, config, {"task": "arith", "corpus": [str(corpus)],
                                         "semantic": False})
    return out


def make_audit(root: Path) -> Path:
    """An audit directory with real stage dirs, a pending and a failed stage."""
    clean, dirty = clean_backend(), dirty_backend()
    stages = []

    def stage(kind: str, model: str, task: str, rel: str, state: str = "done",
              variant: str | None = None, error: str | None = None) -> None:
        stages.append({"id": f"{kind}/{model}/{task}" + (f"/{variant}" if variant else ""),
                       "kind": kind, "model": model, "task": task, "variant": variant,
                       "dir": rel, "state": state, "error": error})

    for spec, backend, short in (("lab:clean", clean, "clean"), ("lab:dirty", dirty, "dirty")):
        make_run(root / "runs" / short / "arith", "arith", backend, spec)
        stage("run", spec, "arith", f"runs/{short}/arith")
        make_run(root / "runs" / short / "arith_mc", "arith_mc", backend, spec)
        stage("run", spec, "arith_mc", f"runs/{short}/arith_mc")
        make_probe(root / "probes" / short, backend, spec)
        stage("probe", spec, "arith", f"probes/{short}")
        make_contamination(root / "contamination" / short, spec, short == "dirty")
        stage("contamination", spec, "arith", f"contamination/{short}")
    make_scan(root / "contamination-scan" / "arith")
    stages.append({"id": "contamination/-/arith/scan", "kind": "contamination", "model": None,
                   "task": "arith", "variant": "scan", "dir": "contamination-scan/arith",
                   "state": "done", "error": None})
    stages.append({"id": "contamination/-/arith_mc/scan", "kind": "contamination",
                   "model": None, "task": "arith_mc", "variant": "scan",
                   "dir": "contamination-scan/arith_mc", "state": "pending", "error": None})
    make_run(root / "runs" / "clean" / "arith-p2", "arith", clean_backend(0.5), "lab:clean")
    stage("prompt_variant", "lab:clean", "arith", "runs/clean/arith-p2", variant="prompt-2")
    stage("probe", "lab:clean", "arith_mc", "probes/clean-mc", state="pending")
    stage("contamination", "lab:dirty", "arith_mc", "contamination/dirty-mc", state="failed",
          error="backend gives no next-token statistics")
    index = {
        "format": "lmaudit.audit/1",
        "suite": {"name": "demo", "path": None, "sha256": "ab" * 32},
        "models": ["lab:clean", "lab:dirty"],
        "command": ["lmaudit", "audit", "--model", "lab:clean", "--model", "lab:dirty",
                    "--suite", "demo"],
        "created": "2026-12-06T05:00:00+00:00",
        "lmaudit_version": "0.1.0",
        "references": {"arith": {"chance": 0.0, "human": None},
                       "arith_mc": {"chance": 0.25, "human": {"expert": 0.95}}},
        "stages": stages,
    }
    (root / "audit.json").write_text(json.dumps(index, indent=2))
    return root


def finite(x: float) -> bool:
    return math.isfinite(x)
