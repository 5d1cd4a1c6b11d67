"""Tiny language models trained locally on CPU, for tests, the demo and detector validation.

`benchmark_corpus` / `build_lab_corpus` make the corpus (optionally contaminated),
`train_lab_model` trains and saves a Hugging Face model directory, `resolve_lab_model`
finds one by name in the lab cache. Importing this package does not import torch.
"""

from lmaudit.lab.corpus import (
    DEFAULT_EXPOSURES,
    DEFAULT_TRAIN_ITEMS,
    LabCorpus,
    benchmark_corpus,
    build_lab_corpus,
    problem_source,
    question_prompt,
    split_documents,
)
from lmaudit.lab.model import LabConfig
from lmaudit.lab.paths import lab_dir, lab_model_path, lmaudit_home, resolve_lab_model
from lmaudit.lab.train import read_lab_card, train_lab_model, train_model

__all__ = [
    "DEFAULT_EXPOSURES",
    "DEFAULT_TRAIN_ITEMS",
    "LabConfig",
    "LabCorpus",
    "benchmark_corpus",
    "build_lab_corpus",
    "lab_dir",
    "lab_model_path",
    "lmaudit_home",
    "problem_source",
    "question_prompt",
    "read_lab_card",
    "resolve_lab_model",
    "split_documents",
    "train_lab_model",
    "train_model",
]
