"""A family of lab models of several sizes, for offline scaling sweeps (`lmaudit scaling`).

`lab-xs`, `lab-s` and `lab-m` differ only in width and depth (and a peak learning rate
scaled down with width, as wider models need); they train on the same code-recall corpus
(`lmaudit.lab.codes`), with the same seed, data order and number of steps. Each trains in
tens of seconds on two CPU cores and is cached in the lab folder like any lab model
(`lab:lab-s`); a cached model is reused while its lab card records the same settings
and corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from lmaudit.core.types import LmauditError
from lmaudit.lab.codes import DEFAULT_DIGITS, DEFAULT_FACTS, code_facts
from lmaudit.lab.corpus import LabCorpus
from lmaudit.lab.model import LabConfig
from lmaudit.lab.paths import is_lab_model_dir, lab_model_path

_SHARED = LabConfig(vocab_size=320, context=64, epochs=1000.0, max_steps=300, batch_size=16,
                    warmup_steps=10)
SIZE_CONFIGS: Mapping[str, LabConfig] = {
    "lab-xs": replace(_SHARED, d_model=32, n_layers=1, n_heads=1, d_ff=128, lr=1e-2),
    "lab-s": replace(_SHARED, d_model=64, n_layers=2, n_heads=2, d_ff=256, lr=5e-3),
    "lab-m": replace(_SHARED, d_model=128, n_layers=2, n_heads=4, d_ff=512, lr=2.5e-3),
}
SWEEP_TASK = "lab_codes"


def sweep_corpus(
    facts: int = DEFAULT_FACTS, digits: int = DEFAULT_DIGITS, seed: int = 0
) -> LabCorpus:
    """The code-recall facts, one document each, in fact order (training shuffles them)."""
    documents = tuple(f.document for f in code_facts(facts, digits, seed))
    return LabCorpus(documents, f"{facts} code-recall facts of {digits} digits",
                     {"facts": len(documents)})


def _is_current(path: Path, config: LabConfig, corpus: LabCorpus, seed: int) -> bool:
    from lmaudit.lab.train import read_lab_card

    card = read_lab_card(path) if is_lab_model_dir(path) else None
    if card is None:
        return False
    return card.get("config") == config.to_dict() and card.get("seed") == seed \
        and card.get("corpus", {}).get("sha256") == corpus.sha256()


def train_size_sweep(
    names: Sequence[str] = tuple(SIZE_CONFIGS),
    *,
    seed: int = 0,
    threads: int | None = 1,
    progress: bool = True,
    retrain: bool = False,
) -> dict[str, Path]:
    """Train (or reuse from the lab folder) the named sizes; returns name -> model folder.

    One torch thread by default: for models this small a second thread gains little and,
    on a busy machine, oversubscribed threads made training several times slower."""
    from lmaudit.lab.train import train_lab_model

    unknown = [n for n in names if n not in SIZE_CONFIGS]
    if unknown:
        raise LmauditError(f"unknown lab size {unknown[0]!r}: use {', '.join(SIZE_CONFIGS)}")
    corpus = sweep_corpus()
    paths = {}
    for name in names:
        config, path = SIZE_CONFIGS[name], lab_model_path(name)
        if retrain or not _is_current(path, config, corpus, seed):
            path = train_lab_model(name, corpus, config=config, seed=seed, threads=threads,
                                   progress=progress)
        paths[name] = path
    return paths
