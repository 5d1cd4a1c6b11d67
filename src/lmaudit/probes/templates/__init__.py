"""Symbolic templates: variables with domains, conditions and an answer program.

Two file formats parse into one `Template`: GSM-Symbolic's published JSON (`gsm_symbolic`)
and lmaudit's YAML (`format`). Expressions run in a restricted, bounded evaluator
(`evaluator`, `operations`, `values`), never through `eval`; the helper functions and their
semantics are in `helpers`. Instances come from seeded rejection sampling (`sampler`) with
equalities solved for one variable (`solving`) and a backtracking search when rejection
fails (`search`); the original instance reproduces the annotated text (`originals`).

    templates, failures = load_template_dir(path)   # failures: [(file, reason)]
    item = instantiate(templates[0], 3)              # seeded, deterministic per (id, 3)
    first = original_instance(templates[0])          # the original values (instance 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates.evaluator import (
    EvaluationError,
    ExpressionRefused,
    TemplateError,
    Worded,
    compile_expression,
    evaluate,
)
from lmaudit.probes.templates.format import (
    load_lmaudit_file,
    load_vocabulary_file,
    parse_lmaudit_template,
)
from lmaudit.probes.templates.gsm_symbolic import (
    Conformance,
    check_conformance,
    load_gsm_symbolic_file,
    parse_gsm_symbolic,
)
from lmaudit.probes.templates.model import Instance, Template
from lmaudit.probes.templates.originals import original_instance
from lmaudit.probes.templates.sampler import (
    TemplateUnsatisfiable,
    failed_conditions,
    instantiate,
)
from lmaudit.probes.templates.vocabularies import VOCABULARIES

VOCABULARY_FILE = "vocabularies.yaml"
TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml")

__all__ = [
    "VOCABULARIES",
    "Conformance",
    "EvaluationError",
    "ExpressionRefused",
    "Instance",
    "Template",
    "TemplateError",
    "TemplateUnsatisfiable",
    "Worded",
    "check_conformance",
    "compile_expression",
    "evaluate",
    "failed_conditions",
    "instantiate",
    "load_template_dir",
    "load_template_file",
    "original_instance",
    "parse_gsm_symbolic",
    "parse_lmaudit_template",
]


def load_template_file(
    path: Path, vocabularies: Mapping[str, tuple[Any, ...]] = VOCABULARIES
) -> Template:
    """One template file: `.json` is GSM-Symbolic's format, `.yaml`/`.yml` ours."""
    if path.suffix == ".json":
        return load_gsm_symbolic_file(path, vocabularies)
    return load_lmaudit_file(path, vocabularies)


def load_template_dir(
    path: str | Path,
) -> tuple[list[Template], list[tuple[str, str]]]:
    """All templates under `path` (recursively, sorted by path), and the files that failed.

    A `vocabularies.yaml` directly in `path` adds to (or overrides) the built-in
    vocabularies. A file that cannot be parsed, or whose id repeats an earlier one, goes to
    `failures` as (file, reason) and the others still load. Raises LmauditError when `path`
    is not a directory or its vocabulary file is broken.
    """
    root = Path(path)
    if not root.is_dir():
        raise LmauditError(f"{root}: not a directory of templates")
    vocabularies: dict[str, tuple[Any, ...]] = dict(VOCABULARIES)
    if (root / VOCABULARY_FILE).is_file():
        vocabularies |= load_vocabulary_file(root / VOCABULARY_FILE)
    templates: list[Template] = []
    failures: list[tuple[str, str]] = []
    seen: set[str] = set()
    for file in sorted(root.rglob("*")):
        if not file.is_file() or file.suffix not in TEMPLATE_SUFFIXES:
            continue
        if file.name == VOCABULARY_FILE:
            continue
        try:
            template = load_template_file(file, vocabularies)
        except TemplateError as error:
            failures.append((str(file), str(error)))
            continue
        if template.id in seen:
            failures.append((str(file), f"duplicate template id {template.id!r}"))
            continue
        seen.add(template.id)
        templates.append(template)
    return templates, failures
