"""Safety prompt sets in their published formats, read into samples (lmaudit ships none).

Each loader turns rows into `Sample`s whose `metadata` holds `label` (`harmful` or `safe`),
`cluster` (the category, when the format has one) and the source fields.

- AdvBench (Zou et al. 2023), `harmful_behaviors.csv` with columns `goal,target`
  (github.com/llm-attacks/llm-attacks, data/advbench/), or the hub copy `walledai/AdvBench`
  (split train; columns `prompt,target`). All harmful; no category.
- HarmBench (Mazeika et al. 2024), the behaviors CSV (`harmbench_behaviors_text_all.csv`,
  github.com/centerforaisafety/HarmBench, data/behavior_datasets/) with columns `Behavior,
  FunctionalCategory, SemanticCategory, Tags, ContextString, BehaviorID`, or the hub copy
  `walledai/HarmBench` (configs standard / contextual, split train; columns `prompt,
  category[, context]`). A contextual behaviour is asked as its context, a line `---` and
  the behaviour, each separated by a blank line (HarmBench's own layout). Cluster: the
  semantic category. `functional` keeps the listed functional categories (default standard
  and contextual; copyright behaviours are judged by hashing in HarmBench, not by a
  classifier).
- HEx-PHI (Qi et al. 2024), eleven files `category_<k>.csv`, one prompt per line, no header
  (gated hub repository `LLM-Tuning-Safety/HEx-PHI`: accept its terms, download, pass the
  folder or one file). Cluster: `category_<k>`.
- XSTest (Röttger et al. 2024), `xstest_prompts.csv` with columns `id, prompt, type, label,
  focus, note` (github.com/paul-rottger/xstest), or the hub copy `walledai/XSTest` (split
  train). `label` safe -> safe, unsafe -> harmful. Cluster: `type`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import is_null, require_field
from lmaudit.data.textio import csv_problem, not_utf8_message, open_text
from lmaudit.tasks.safety_metrics import HARMFUL, SAFE

HUB_IDS = {"advbench": ("walledai/AdvBench", None, "train"),
           "harmbench": ("walledai/HarmBench", "standard", "train"),
           "xstest": ("walledai/XSTest", None, "train")}
HEX_PHI_HUB = "LLM-Tuning-Safety/HEx-PHI"
HARMBENCH_FUNCTIONAL = ("standard", "contextual", "copyright")
CONTEXT_SEPARATOR = "\n\n---\n\n"


def _text(row: dict[str, Any], names: Sequence[str], where: str, i: int) -> str:
    """The first of `names` the row has (non-empty), as stripped text."""
    for name in names:
        if name in row and not is_null(row[name]) and str(row[name]).strip():
            return str(row[name]).strip()
    return str(require_field(row, names[0], source=where, row_index=i)).strip()


def advbench_samples(rows: Sequence[dict[str, Any]], where: str) -> list[Sample]:
    """AdvBench rows `{goal|prompt, target}`; ids `advbench-<row>`."""
    return [Sample(f"advbench-{i}", _text(row, ("goal", "prompt"), where, i), "",
                   metadata={"label": HARMFUL, "row_index": i,
                             "target_string": str(row.get("target") or "")})
            for i, row in enumerate(rows)]


def harmbench_samples(rows: Sequence[dict[str, Any]], where: str,
                      functional: Sequence[str] = ("standard", "contextual"),
                      hub_config: str | None = None) -> list[Sample]:
    """HarmBench rows (original CSV or hub copy, module docstring); ids the BehaviorID.
    A row without `FunctionalCategory` (the hub copy) is `copyright` when read from the hub
    config `copyright`, else contextual when it has a context, else standard."""
    unknown = sorted(set(functional) - set(HARMBENCH_FUNCTIONAL))
    if unknown:
        raise LmauditError(f"harmbench: unknown functional category {unknown[0]!r}; use "
                           f"{', '.join(HARMBENCH_FUNCTIONAL)}")
    samples = []
    for i, row in enumerate(rows):
        behavior = _text(row, ("Behavior", "prompt"), where, i)
        kind = str(row.get("FunctionalCategory") or (
            "copyright" if hub_config == "copyright"
            else "contextual" if str(row.get("context") or "").strip() else "standard"))
        if kind not in functional:
            continue
        context = str(row.get("ContextString") or row.get("context") or "").strip()
        prompt = f"{context}{CONTEXT_SEPARATOR}{behavior}" if context else behavior
        category = str(row.get("SemanticCategory") or row.get("category") or "").strip()
        metadata: dict[str, Any] = {"label": HARMFUL, "row_index": i, "functional": kind,
                                    "behavior": behavior}
        if category:
            metadata["cluster"] = category
        samples.append(Sample(str(row.get("BehaviorID") or f"harmbench-{i}"), prompt, "",
                              metadata=metadata))
    return samples


def xstest_samples(rows: Sequence[dict[str, Any]], where: str) -> list[Sample]:
    """XSTest rows `{id?, prompt, type, label, focus?, note?}`; ids `xstest-<id>`."""
    samples = []
    for i, row in enumerate(rows):
        label = str(require_field(row, "label", source=where, row_index=i)).strip().lower()
        if label not in ("safe", "unsafe"):
            raise LmauditError(f"{where}: row {i}: label must be safe or unsafe, got {label!r}")
        kind = str(row.get("type") or "").strip()
        metadata: dict[str, Any] = {"label": SAFE if label == "safe" else HARMFUL,
                                    "row_index": i, "type": kind,
                                    "focus": row.get("focus"), "note": row.get("note")}
        if kind:
            metadata["cluster"] = kind
        ident = row.get("id")
        samples.append(Sample(f"xstest-{ident if not is_null(ident) else i}",
                              _text(row, ("prompt",), where, i), "", metadata=metadata))
    return samples


def _hex_phi_lines(path: Path) -> list[str]:
    """The prompts of one HEx-PHI file: the first CSV field of every non-blank line."""
    try:
        with open_text(path) as handle:
            reader = csv.reader(handle)
            try:
                return [row[0].strip() for row in reader if row and row[0].strip()]
            except csv.Error as error:
                raise csv_problem(path, reader.line_num, error) from None
    except UnicodeDecodeError as error:
        raise LmauditError(not_utf8_message(path, error)) from None
    except OSError as error:
        raise LmauditError(f"{path}: cannot read ({error})") from None


def hex_phi_samples(path: Path) -> list[Sample]:
    """HEx-PHI prompts from a folder of `category_<k>.csv` files (natural order) or one
    file; ids `hex_phi-<file stem>-<line>`."""
    files = [path] if path.is_file() else sorted(
        path.glob("category_*.csv"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise LmauditError(f"{path}: no category_<k>.csv files (HEx-PHI: download them from "
                           f"the gated hub repository {HEX_PHI_HUB})")
    samples = []
    for file in files:
        for k, prompt in enumerate(_hex_phi_lines(file)):
            samples.append(Sample(f"hex_phi-{file.stem}-{k}", prompt, "",
                                  metadata={"label": HARMFUL, "cluster": file.stem}))
    return samples

