"""Battles I/O: every format reads to the same canonical rows; bad rows are named by line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmaudit.arena.battles import read_battles
from lmaudit.arena.cells import (
    A_WINS,
    B_WINS,
    TIE,
    TIE_BOTHBAD,
    cells_from_battles,
    with_inverse_propensity_weights,
)
from lmaudit.core.types import LmauditError

ROWS: list[dict[str, object]] = [
    {"model_a": "x", "model_b": "y", "winner": "model_a", "prompt_id": "p1", "judge": "u1"},
    {"model_a": "y", "model_b": "x", "winner": "model_a", "prompt_id": "p2", "judge": "u2"},
    {"model_a": "x", "model_b": "z", "winner": "tie", "count": 3, "prompt_id": "p3"},
    {"model_a": "z", "model_b": "y", "winner": "tie (bothbad)", "prompt_id": "p4"},
]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_csv_parquet_and_fastchat_json_agree(tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS)
    paths = [_write_jsonl(tmp_path / "b.jsonl", ROWS), tmp_path / "b.csv", tmp_path / "b.parquet"]
    frame.to_csv(paths[1], index=False)
    frame.to_parquet(paths[2])
    fastchat = [dict(r, tstamp=1.0 + i, anony=True) for i, r in enumerate(ROWS)]
    paths.append(tmp_path / "b.json")
    paths[-1].write_text(json.dumps(fastchat))
    for path in paths:
        battles = read_battles(path)
        assert battles.models == ("x", "y", "z")
        assert list(battles.frame["winner"]) == [r["winner"] for r in ROWS]
        assert battles.frame["count"].tolist() == [1.0, 1.0, 3.0, 1.0]
        assert battles.n_battles == 6
        assert battles.frame["prompt_id"].tolist() == ["p1", "p2", "p3", "p4"]


def test_cells_canonical_order_and_outcome_flip(tmp_path: Path) -> None:
    cells = cells_from_battles(read_battles(_write_jsonl(tmp_path / "b.jsonl", ROWS)))
    # pairs ordered by model index: (x, y), (x, z), (y, z)
    assert list(zip(cells.pair_a, cells.pair_b, strict=True)) == [(0, 1), (0, 2), (1, 2)]
    table = cells.outcome_counts()
    # x beat y once; y (shown as model_a) beat x once -> from x's side a loss
    assert table[0].tolist() == [1, 1, 0, 0]
    assert table[1, TIE] == 3  # x-z ties, count 3
    assert table[2, TIE_BOTHBAD] == 1 and table[2, A_WINS] == 0 and table[2, B_WINS] == 0
    assert cells.battles_per_model().tolist() == [5, 3, 4]


def test_bad_rows_are_reported_by_line(tmp_path: Path) -> None:
    lines = [
        json.dumps(ROWS[0]),
        "{not json",
        json.dumps({"model_a": "x", "model_b": "x", "winner": "tie"}),
        json.dumps({"model_a": "x", "model_b": "y", "winner": "model_c"}),
        json.dumps({"model_a": "x", "model_b": "y", "winner": "tie", "count": -2}),
        json.dumps({"model_a": "x", "winner": "tie"}),
        json.dumps({"model_a": "x", "model_b": "y", "winner": "tie", "weight": 0}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LmauditError) as error:
        read_battles(path)
    message = str(error.value)
    assert "6 bad row(s)" in message
    for expected in (
        "line 2: malformed JSON",
        "line 3: model_a and model_b are both 'x'",
        "line 4: winner 'model_c' is not one of",
        "line 5: count -2 is not a non-negative integer",
        "line 6: model_b is missing or empty",
        "line 7: weight 0 is not positive",
    ):
        assert expected in message
    kept = read_battles(path, skip_bad_rows=True)
    assert len(kept) == 1 and len(kept.problems) == 6
    assert (
        str(kept.problems[0])
        == "line 2: malformed JSON (Expecting property name enclosed in double quotes at "
        "column 2)"
    )


def test_csv_line_numbers_count_the_header(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,oops\n")
    with pytest.raises(LmauditError, match=r"line 3: winner 'oops'"):
        read_battles(path)


def test_pair_count_layout(tmp_path: Path) -> None:
    payload = {
        "models": ["m0", "m1", "m2"],
        "X": [[0, 1], [1, 2]],
        "Y": [[5, 2, 1, 0], [0, 3, 0, 2]],
    }
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(payload))
    battles = read_battles(path)
    assert not battles.ordered
    assert battles.n_battles == 13
    table = cells_from_battles(battles).outcome_counts()
    assert table.tolist() == [[5, 2, 1, 0], [0, 3, 0, 2]]


def test_fastchat_conv_metadata_and_conversations(tmp_path: Path) -> None:
    record = {
        "model_a": "x",
        "model_b": "y",
        "winner": "model_b",
        "conv_metadata": {
            "sum_assistant_a_tokens": 120,
            "sum_assistant_b_tokens": 300,
            "header_count_a": {"h1": 1, "h2": 2},
            "header_count_b": {"h1": 0},
            "list_count_a": {"ordered": 3, "unordered": 1},
            "list_count_b": {"ordered": 0, "unordered": 0},
            "bold_count_a": {"**": 2, "__": 0},
            "bold_count_b": {"**": 0, "__": 1},
        },
        "conversation_a": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "A!"},
        ],
        "conversation_b": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "B"},
        ],
    }
    path = tmp_path / "fc.json"
    path.write_text(json.dumps([record]))
    row = read_battles(path).frame.iloc[0]
    assert (row["tokens_a"], row["headers_a"], row["list_items_a"], row["bold_a"]) == (120, 3, 4, 2)
    assert (row["tokens_b"], row["headers_b"], row["list_items_b"], row["bold_b"]) == (300, 0, 0, 1)
    assert row["response_a"] == "A!" and row["response_b"] == "B"


def test_inverse_propensity_weights_equalise_pairs(tmp_path: Path) -> None:
    rows = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "count": 300},
        {"model_a": "x", "model_b": "z", "winner": "model_b", "count": 60},
        {"model_a": "y", "model_b": "z", "winner": "tie", "count": 10},
    ]
    cells = with_inverse_propensity_weights(
        cells_from_battles(read_battles(_write_jsonl(tmp_path / "b.jsonl", rows)))
    )
    per_pair = np.bincount(cells.cell_pair, cells.cell_count * cells.cell_weight)
    # weights 1/300, 1/60, 1/50 (floor 50) rescaled to total 370 battles
    raw = np.array([300 / 300, 60 / 60, 10 / 50])
    assert per_pair == pytest.approx(raw * 370 / raw.sum())


def test_unknown_format_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("x")
    with pytest.raises(LmauditError, match="unknown battles format"):
        read_battles(path)
    bad = tmp_path / "b.csv"
    bad.write_text("model_a,winner\nx,tie\n")
    with pytest.raises(LmauditError, match="missing column"):
        read_battles(bad)
