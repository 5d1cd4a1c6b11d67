"""The `perplexity` task: bits per byte and perplexities of plain-text documents.

Documents (`text-docs-v1`): a UTF-8 text file is split into paragraphs at blank lines
(lines holding only whitespace count as blank); each paragraph is stripped of surrounding
whitespace and empty ones are dropped. With `split=file` the whole file (stripped) is one
document. A directory contributes its `*.txt` files, sorted by name; their paragraphs (or
whole files) are clustered by file. Metrics: `PerplexityTask`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import combined_sha256
from lmaudit.data.textio import read_text
from lmaudit.tasks.generic import PerplexityTask
from lmaudit.tasks.registry import TaskOptions, register_task

DOCS_VERSION = "text-docs-v1"
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of `text` (rules in the module docstring)."""
    return [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]


def text_files(data: str) -> tuple[list[Path], bool]:
    """(files, from_directory) for a text file or a directory of `*.txt` files."""
    path = Path(data).expanduser()
    if path.is_file():
        return [path], False
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise LmauditError(f"{path}: no *.txt files")
        return files, True
    raise LmauditError(f"{path}: no such file or directory")


def document_samples(files: list[Path], *, whole_files: bool, clustered: bool) -> list[Sample]:
    """One sample per document; ids `<k>` for one file, `<file name>/<k>` for several."""
    samples: list[Sample] = []
    for file in files:
        text = read_text(file)
        docs = [text.strip()] if whole_files else split_paragraphs(text)
        for k, doc in enumerate(d for d in docs if d):
            sample_id = f"{file.name}/{k}" if clustered else str(k)
            metadata = {"cluster": file.name} if clustered else {}
            samples.append(Sample(sample_id, doc, "", metadata=metadata))
    if not samples:
        raise LmauditError(f"{files[0]}: no non-empty documents")
    return samples


@register_task(
    "perplexity",
    "bits per byte and perplexity of your text (needs data=FILE)",
    task_type="perplexity",
)
def perplexity(**options: str) -> Task:
    opts = TaskOptions(
        "perplexity",
        options,
        {
            "data": "a UTF-8 text file, or a directory of *.txt files (required)",
            "split": "paragraph (default: documents end at blank lines) or file",
        },
    )
    data = opts.text("data")
    if not data:
        raise LmauditError("task perplexity needs --task-option data=PATH (a text file or dir)")
    mode = opts.choice("split", "paragraph", ("paragraph", "file"))
    files, clustered = text_files(data)

    def data_spec(load: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"path": str(Path(data).resolve()), "n_files": len(files)}
        if load:
            info["sha256"] = combined_sha256(files)
        return info

    return PerplexityTask(
        "perplexity",
        lambda: document_samples(files, whole_files=mode == "file", clustered=clustered),
        config={"task_version": "perplexity-v1", "documents": DOCS_VERSION,
                "options": opts.spec()},
        data_spec=data_spec,
    )
