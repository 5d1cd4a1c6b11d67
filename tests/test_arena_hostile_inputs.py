"""Hostile battle files and `arena rank` options (issue 11): rejected by line, one clear
error, never coerced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.arena.battles import MAX_ROW_COUNT, read_battles
from lmaudit.arena.ranking import RankOptions, rank_battles
from lmaudit.cli import main
from lmaudit.core.types import LmauditError

GOOD = [
    {"model_a": "x", "model_b": "y", "winner": "model_a"},
    {"model_a": "y", "model_b": "z", "winner": "model_a"},
    {"model_a": "z", "model_b": "x", "winner": "model_a"},
    {"model_a": "x", "model_b": "z", "winner": "tie"},
]


def _jsonl(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "b.jsonl"
    lines = [json.dumps(row) for row in GOOD] + list(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def _error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(LmauditError) as error:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(error.value)


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ('"count": NaN', "count is NaN"),
        ('"count": Infinity', "count is infinite"),
        ('"count": -1', "count -1 is not a non-negative integer"),
        ('"count": 2.5', "count 2.5 is not a non-negative integer"),
        ('"count": true', "count True is not a number"),
        ('"count": 1e300', f"count 1e+300 is above the limit of {MAX_ROW_COUNT:g} per row"),
        ('"weight": NaN', "weight is NaN"),
        ('"tokens_a": NaN', "tokens_a is NaN"),
    ],
)
def test_bad_counts_are_rejected_by_line(tmp_path: Path, field: str, problem: str) -> None:
    path = _jsonl(tmp_path, '{"model_a": "x", "model_b": "y", "winner": "model_b", ' + field + "}")
    assert _error(read_battles, path) == f"{path}: 1 bad row(s): line 5: {problem}"
    kept = read_battles(path, skip_bad_rows=True)
    assert len(kept) == 4 and kept.n_battles == 4.0


def test_csv_counts_nan_and_huge(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "\ufeffmodel_a,model_b,winner,count\nx,y,model_a,nan\nx,y,model_b,1e13\nx,y,tie,2\n",
        encoding="utf-8",
    )
    assert _error(read_battles, path) == (
        f"{path}: 2 bad row(s): line 2: count 'nan' is not a number; "
        "line 3: count 1e+13 is above the limit of 1e+12 per row"
    )
    assert read_battles(path, skip_bad_rows=True).n_battles == 2.0  # BOM: `model_a` found


def test_pair_counts_with_nan(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"models": ["x", "y"], "X": [[0, 1]], "Y": [[NaN, 1, 0, 0]]}')
    assert _error(read_battles, path) == f"{path}: pair 1: Y holds NaN; counts must be numbers"


def test_unreadable_battle_files(tmp_path: Path) -> None:
    latin = tmp_path / "b.csv"
    latin.write_bytes(b"model_a,model_b,winner\ncaf\xe9,y,model_a\n")
    assert _error(read_battles, latin).startswith(f"{latin}: not UTF-8 text (byte 0xe9")
    deep = tmp_path / "b.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert _error(read_battles, deep) == f"{deep}: JSON nested too deeply to read"
    line = _jsonl(tmp_path, '{"model_a": ' + "9" * 5000 + "}")
    assert _error(read_battles, line).startswith(
        f"{line}: 1 bad row(s): line 5: unreadable JSON value (Exceeds the limit (4300 digits)"
    )
    long_field = tmp_path / "long.csv"
    long_field.write_text(f"model_a,model_b,winner,response_a\nx,y,model_a,{'w ' * 100_000}\n")
    assert read_battles(long_field).frame["response_a"].str.len().iloc[0] == 200_000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"confidence": 1.5}, "--confidence must be a level between 0 and 1 (e.g. 0.95), got 1.5"),
        ({"confidence": float("nan")}, "--confidence must be a level between 0 and 1"),
        ({"ridge": -1.0}, "--ridge must be a finite number >= 0, got -1.0"),
        ({"ridge": float("inf")}, "--ridge must be a finite number >= 0, got inf"),
    ],
)
def test_rank_options_out_of_range(
    tmp_path: Path, option: dict[str, float], message: str
) -> None:
    battles = read_battles(_jsonl(tmp_path))
    assert _error(rank_battles, battles, RankOptions(**option)).startswith(message)


def test_rank_cli_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _jsonl(tmp_path)
    assert main(["arena", "rank", str(path), "--confidence", "1.5"]) == 2
    assert main(["arena", "rank", str(path), "--ridge", "-0.5"]) == 2
    huge = _jsonl(tmp_path, '{"model_a": "x", "model_b": "y", "winner": "tie", "count": 1e300}')
    assert main(["arena", "rank", str(huge)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "lmaudit: error: --confidence must be a level between 0 and 1 (e.g. 0.95), got 1.5",
        "lmaudit: error: --ridge must be a finite number >= 0, got -0.5",
        f"lmaudit: error: {huge}: 1 bad row(s): line 5: count 1e+300 is above the limit of "
        "1e+12 per row",
    ]


def test_tiny_file_ranks_with_bootstrap_instead_of_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Resamples of 4 rows often leave a model without battles (a singular Hessian).
    path = tmp_path / "tiny.csv"
    path.write_text(
        "model_a,model_b,winner,count\nx,y,model_a,3\ny,x,model_a,2\nx,z,model_b,1\nz,y,tie,1\n"
    )
    assert main(["arena", "rank", str(path), "--bootstrap", "200", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "bootstrap round(s) failed the gradient check" in out


def test_judge_outputs_file_unreadable(tmp_path: Path) -> None:
    from lmaudit.arena.judges import read_outputs

    path = tmp_path / "o.jsonl"
    path.write_bytes(b'{"id": "1", "prompt": "p", "output": "\xff"}\n')
    assert _error(read_outputs, path).startswith(f"{path}: not UTF-8 text (byte 0xff")
    path.write_text('{"id": "1", "prompt": "p", "output": "o"}\n{"id": ' + "9" * 5000 + "}\n")
    assert _error(read_outputs, path).startswith(
        f"{path}: line 2: unreadable JSON value (Exceeds the limit (4300 digits)"
    )
