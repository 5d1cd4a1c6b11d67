"""Inspect AI evaluation logs → lmaudit run directories.

Two formats: a `.json` log (one `EvalLog` object: `eval`, `results`, `samples`) and a
`.eval` log (a zip, stored, deflated or, as inspect-ai writes it now, Zstandard-compressed:
`header.json` holding `eval`/`results`, or the older `start.json` + `results.json`, and one
`samples/<id>_epoch_<n>.json` per sample).

Each sample becomes one record: `id` (with `#<epoch>` when a log holds several epochs; the
epochs of one id then share a cluster, so intervals are clustered), `input` (a string, or
chat messages rendered as `role: text` blocks), `target` (a list joined with ` | `), the
model's `output.completion` (else its first choice's text), each scorer's `answer` as the
extracted answer (the first scorer's), and one metric per scorer: Inspect's
`value_to_float` rule (`C` 1, `I` 0, `P` 0.5, `N` 0; yes/true 1, no/false 0; numbers and
numeric strings as numbers). `attachment://` references (long texts Inspect stores once
per sample) are resolved. A scorer whose values are dicts or lists is not imported and is
named. Inspect's reported `accuracy` / `mean` of each scorer is kept and checked.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError, SampleRecord

LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}


@dataclass(frozen=True)
class InspectLog:
    """The parts of an Inspect log lmaudit reads."""

    path: Path
    eval: Mapping[str, Any]
    results: Mapping[str, Any]
    samples: tuple[Mapping[str, Any], ...]

    @property
    def task(self) -> str:
        return str(self.eval.get("task") or self.path.stem)

    @property
    def model(self) -> str:
        return f"inspect:{self.eval.get('model') or 'unknown-model'}"


ZIP_ZSTD = 93  # the zip method number of Zstandard (Inspect's .eval logs since 2025)


def _zstd_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A Zstandard-compressed zip member, which Python's zipfile reads only from 3.14:
    its bytes after the local file header (30 bytes, then name and extra field)."""
    import struct

    import zstandard

    handle = archive.fp
    assert handle is not None
    handle.seek(info.header_offset)
    header = handle.read(30)
    if header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    compressed = handle.read(info.compress_size)
    try:
        return zstandard.ZstdDecompressor().decompress(compressed, max_output_size=info.file_size)
    except zstandard.ZstdError as error:
        raise zipfile.BadZipFile(f"Zstandard: {error}") from None


def _zip_json(archive: zipfile.ZipFile, name: str, path: Path) -> Any:
    try:
        info = archive.getinfo(name)
        raw = (_zstd_member(archive, info) if info.compress_type == ZIP_ZSTD
               else archive.read(name))
        return json.loads(raw)
    except (KeyError, json.JSONDecodeError, zipfile.BadZipFile) as error:
        raise LmauditError(f"{path}: {name} is missing or damaged ({error})") from None


def read_inspect_log(path: Path) -> InspectLog:
    """Read a `.json` or `.eval` log; a log without samples is an error naming why."""
    if not path.is_file():
        raise LmauditError(f"{path} does not exist")
    if path.suffix == ".eval" or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            header_name = "header.json" if "header.json" in names else "start.json"
            header = _zip_json(archive, header_name, path)
            results = header.get("results")
            if results is None and "results.json" in names:
                results = _zip_json(archive, "results.json", path).get("results")
            samples = [_zip_json(archive, n, path) for n in sorted(names)
                       if n.startswith("samples/") and n.endswith(".json")]
    else:
        from lmaudit.core.store import read_json_object

        header = read_json_object(path)
        results, samples = header.get("results"), header.get("samples") or []
    if not isinstance(header.get("eval"), Mapping):
        raise LmauditError(f"{path}: no `eval` section (not an Inspect log)")
    if not samples:
        raise LmauditError(f"{path}: the log holds no samples (written with "
                           "--no-log-samples?); nothing to import")
    return InspectLog(path, header["eval"], results or {}, tuple(samples))


def score_to_float(value: Any) -> float | None:
    """Inspect's `value_to_float`; None for values it cannot turn into one number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value in LETTERS:
            return LETTERS[value]
        if value.lower() in WORDS:
            return WORDS[value.lower()]
        try:
            return float(value)
        except ValueError:
            return None
    return None


def content_text(content: Any) -> str:
    """A message's text: a string, or the `text` of its text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content
                       if isinstance(part, Mapping) and part.get("type") == "text")
    return ""


def input_text(value: Any) -> str:
    """A sample's input as one string (chat messages as `role: text` blocks)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(f"{m.get('role', '?')}: {content_text(m.get('content'))}"
                           for m in value if isinstance(m, Mapping))
    raise LmauditError(f"sample input of type {type(value).__name__} is not text or messages")


def output_text(output: Any) -> str:
    """The model's answer: `completion`, else the first choice's message text."""
    if not isinstance(output, Mapping):
        return ""
    if output.get("completion"):
        return str(output["completion"])
    choices = output.get("choices") or []
    if choices and isinstance(choices[0], Mapping):
        return content_text((choices[0].get("message") or {}).get("content"))
    return ""


ATTACHMENT = "attachment://"


def resolve_attachments(value: Any, attachments: Mapping[str, Any]) -> Any:
    """`value` with every `attachment://<hash>` string replaced by the sample's stored
    attachment (Inspect condenses long texts this way); an unknown hash is an error."""
    if isinstance(value, str) and value.startswith(ATTACHMENT):
        key = value[len(ATTACHMENT):]
        if key not in attachments:
            raise LmauditError(f"attachment {key} is referenced but not stored in the sample")
        return attachments[key]
    if isinstance(value, Mapping):
        return {k: resolve_attachments(v, attachments) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_attachments(v, attachments) for v in value]
    return value


def records(log: InspectLog) -> tuple[list[SampleRecord], list[str]]:
    """One record per sample × epoch, and the scorers not imported (not numbers)."""
    several_epochs = len({s.get("epoch", 1) for s in log.samples}) > 1
    skipped: set[str] = set()
    out = []
    for i, raw in enumerate(log.samples):
        sample = resolve_attachments(
            {k: v for k, v in raw.items() if k not in ("attachments", "events")},
            raw.get("attachments") or {})
        for field in ("id", "input", "target"):
            if field not in sample:
                raise LmauditError(f"{log.path}: sample {i} lacks `{field}`")
        metrics: dict[str, float] = {}
        answers: list[str] = []
        for name, score in (sample.get("scores") or {}).items():
            value = score_to_float(score.get("value") if isinstance(score, Mapping) else None)
            if value is None:
                skipped.add(str(name))
                continue
            metrics[str(name)] = value
            if isinstance(score, Mapping) and score.get("answer") is not None:
                answers.append(str(score["answer"]))
        target = sample["target"]
        sid = str(sample["id"])
        out.append(SampleRecord(
            sample_id=f"{sid}#{sample.get('epoch', 1)}" if several_epochs else sid,
            prompt=input_text(sample["input"]),
            target=" | ".join(map(str, target)) if isinstance(target, list) else str(target),
            response=output_text(sample.get("output")),
            extracted=answers[0] if answers else None,
            metrics=metrics,
            cluster=sid if several_epochs else None,
            extra={"epoch": sample.get("epoch", 1)},
        ))
    return out, sorted(skipped)


def reported(log: InspectLog) -> dict[str, float]:
    """Each scorer's `accuracy` (else `mean`) as Inspect reported it."""
    values: dict[str, float] = {}
    for score in log.results.get("scores") or []:
        metrics = score.get("metrics") or {}
        for key in ("accuracy", "mean"):
            if isinstance(metrics.get(key), Mapping) and "value" in metrics[key]:
                values[str(score.get("name"))] = float(metrics[key]["value"])
                break
    return values
