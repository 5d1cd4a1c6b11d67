"""`lmaudit import inspect`: Inspect AI `.json` and `.eval` logs (the shapes Inspect's
json and eval recorders write) become run directories that reproduce Inspect's reported
accuracy; epochs become clusters; scorers without numeric values are named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.store import load_run
from lmaudit.core.types import LmauditError
from lmaudit.interop.inspect_log import read_inspect_log, score_to_float

VALUES = ["C", "I", "C", "P", "C", "N"]


def _sample(i: int, value: str, epoch: int = 1) -> dict[str, object]:
    return {
        "id": f"q{i}", "epoch": epoch,
        "input": [{"role": "system", "content": "attachment://h1"},
                  {"role": "user", "content": [{"type": "text", "text": f"What is {i}+{i}?"}]}],
        "target": [str(2 * i), f"{2 * i}.0"],
        "messages": [], "attachments": {"h1": "Be brief."},
        "output": {"model": "mockllm/model",
                   "choices": [{"message": {"role": "assistant", "content": f"ANSWER: {2 * i}"},
                                "stop_reason": "stop"}],
                   "completion": f"ANSWER: {2 * i}"},
        "scores": {"match": {"value": value, "answer": str(2 * i), "explanation": "x"},
                   "rubric": {"value": {"a": 1, "b": 0}}},
        "metadata": {},
    }


def _log(epochs: int = 1) -> dict[str, object]:
    samples = [_sample(i, v, e) for e in range(1, epochs + 1) for i, v in enumerate(VALUES)]
    accuracy = sum(score_to_float(v) or 0.0 for v in VALUES) / len(VALUES)
    return {
        "version": 2, "status": "success",
        "eval": {"run_id": "r1", "task": "sums", "task_version": 0, "model": "mockllm/model",
                 "created": "2026-12-06T06:00:00+00:00", "dataset": {"samples": 6}},
        "plan": {"name": "plan", "steps": []},
        "results": {"total_samples": len(samples), "completed_samples": len(samples),
                    "scores": [{"name": "match", "scorer": "match",
                                "metrics": {"accuracy": {"name": "accuracy", "value": accuracy},
                                            "stderr": {"name": "stderr", "value": 0.2}}}]},
        "stats": {},
        "samples": samples,
    }


def test_json_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.json"
    path.write_text(json.dumps(_log()))
    assert main(["import", "inspect", str(path), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "not imported (per-sample values are not numbers): rubric" in out
    run = load_run(tmp_path / "run")
    metric = run.results["metrics"]["match"]
    assert metric["value"] == metric["reported_value"] == 3.5 / 6
    assert metric["method"] == "t"  # a partial credit: not a 0/1 proportion
    row = run.samples.iloc[1]
    assert row["prompt"] == "system: Be brief.\n\nuser: What is 1+1?"
    assert (row["target"], row["response"], row["extracted"]) == ("2 | 2.0", "ANSWER: 2", "2")
    assert run.manifest["model_spec"] == "inspect:mockllm/model"
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "r.html")]) == 0


def test_eval_zip_log_with_epochs(tmp_path: Path) -> None:
    log = _log(epochs=2)
    path = tmp_path / "log.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.json", json.dumps({k: v for k, v in log.items()
                                                    if k != "samples"}))
        for sample in log["samples"]:  # type: ignore[attr-defined]
            archive.writestr(f"samples/{sample['id']}_epoch_{sample['epoch']}.json",
                             json.dumps(sample))
    assert main(["import", "inspect", str(path), "--out", str(tmp_path / "run")]) == 0
    run = load_run(tmp_path / "run")
    assert len(run.samples) == 12 and "q0#2" in set(run.samples["sample_id"])
    assert set(run.samples["cluster"]) == {f"q{i}" for i in range(6)}
    assert run.results["metrics"]["match"]["n_clusters"] == 6


def test_logs_without_samples_are_refused(tmp_path: Path) -> None:
    log = _log()
    log["samples"] = []
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    with pytest.raises(LmauditError, match="holds no samples"):
        read_inspect_log(path)
    assert score_to_float("yes") == 1.0 and score_to_float("0.25") == 0.25
    assert score_to_float({"a": 1}) is None


def _zstd_zip(path: Path, members: dict[str, bytes]) -> None:
    """A zip whose members are Zstandard-compressed (method 93), as inspect-ai writes
    .eval logs: written stored with compressed bytes, then method and size patched."""
    import struct

    import zstandard

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, zstandard.ZstdCompressor().compress(data))
    raw = bytearray(path.read_bytes())
    sizes = [len(data) for data in members.values()]
    with zipfile.ZipFile(path) as archive:
        offsets = [info.header_offset for info in archive.infolist()]
    for offset, size in zip(offsets, sizes, strict=True):  # local headers
        struct.pack_into("<H", raw, offset + 8, 93)
        struct.pack_into("<L", raw, offset + 22, size)
    central = struct.unpack_from("<L", raw, raw.rindex(b"PK\x05\x06") + 16)[0]
    for size in sizes:  # central directory entries, in order
        assert raw[central:central + 4] == b"PK\x01\x02"
        struct.pack_into("<H", raw, central + 10, 93)
        struct.pack_into("<L", raw, central + 24, size)
        lengths = struct.unpack_from("<3H", raw, central + 28)
        central += 46 + sum(lengths)
    path.write_bytes(bytes(raw))


def test_zstandard_compressed_eval_log(tmp_path: Path) -> None:
    log = _log()
    members = {"header.json": json.dumps({k: v for k, v in log.items()
                                          if k != "samples"}).encode()}
    for sample in log["samples"]:  # type: ignore[attr-defined]
        members[f"samples/{sample['id']}_epoch_1.json"] = json.dumps(sample).encode()
    path = tmp_path / "log.eval"
    _zstd_zip(path, members)
    with zipfile.ZipFile(path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {93}
    read = read_inspect_log(path)
    assert len(read.samples) == 6 and read.samples[0]["id"] == "q0"
    assert read.results["scores"][0]["metrics"]["accuracy"]["value"] == 3.5 / 6


def test_damaged_zstandard_member_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "log.eval"
    _zstd_zip(path, {"header.json": json.dumps({"eval": {}, "results": {}}).encode()})
    raw = bytearray(path.read_bytes())
    start = raw.index(b"header.json") + len("header.json") + 4  # past the zstd magic number
    raw[start:start + 8] = b"\xff" * 8  # the frame header and first block garbled
    path.write_bytes(bytes(raw))
    with pytest.raises(LmauditError, match=r"log\.eval: header\.json is missing or damaged"):
        read_inspect_log(path)
