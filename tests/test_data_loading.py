"""Data loading: local jsonl/json/csv/parquet files and directories, hub errors, row fields."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.data import loading
from lmaudit.data.loading import combined_sha256, file_sha256, load_rows, require_field
from lmaudit.data.source import DataSource

ROWS = [
    {"question": "1+1?", "answer": "2"},
    {"question": "Caf\u00e9, 2+2?", "answer": "4"},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_rows_in_order_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    assert load_rows(str(path)) == ROWS


def test_gzipped_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in ROWS))
    assert load_rows(str(path)) == ROWS


def test_csv_values_are_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('question,answer\n1+1?,2\n"Caf\u00e9, 2+2?",4\n', encoding="utf-8")
    assert load_rows(str(path)) == ROWS


def test_parquet_keeps_types_and_lists(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    table = pa.table({"q": ["a", "b"], "choices": [["x", "y"], ["z", "w"]], "answer": [1, 0]})
    pq.write_table(table, path)
    assert load_rows(str(path)) == [
        {"q": "a", "choices": ["x", "y"], "answer": 1},
        {"q": "b", "choices": ["z", "w"], "answer": 0},
    ]


def test_json_list_and_object_keyed_by_split(tmp_path: Path) -> None:
    plain = tmp_path / "list.json"
    plain.write_text(json.dumps(ROWS))
    assert load_rows(str(plain)) == ROWS
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"test": ROWS[:1], "train": ROWS[1:]}))
    assert load_rows(str(keyed), split="train") == ROWS[1:]
    pattern = r"keyed\.json: expected a list.*lists found under: test, train"
    with pytest.raises(LmauditError, match=pattern):
        load_rows(str(keyed), split="dev")


def test_directory_picks_the_split_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", ROWS[:1])
    (tmp_path / "train.csv").write_text("question,answer\n1+1?,2\n")
    assert load_rows(str(tmp_path), split="test") == ROWS[:1]
    assert load_rows(str(tmp_path), split="train") == ROWS[:1]
    pattern = r"no dev\.jsonl.*data files present: test\.jsonl, train\.csv"
    with pytest.raises(LmauditError, match=pattern):
        load_rows(str(tmp_path), split="dev")
    with pytest.raises(LmauditError, match="is a directory; say which split"):
        load_rows(str(tmp_path), split=None)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(LmauditError, match=r"nope\.jsonl: no such file or directory"):
        load_rows(str(missing))


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n', encoding="utf-8")
    with pytest.raises(LmauditError, match=r"bad\.jsonl: line 3: malformed JSON"):
        load_rows(str(path))


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(LmauditError, match=r"list\.jsonl: line 2: expected a JSON object"):
        load_rows(str(path))


def test_non_utf8_and_ragged_csv(tmp_path: Path) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"a": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(LmauditError, match=r"latin\.jsonl: not UTF-8"):
        load_rows(str(latin))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(LmauditError, match=r"ragged\.csv: line 3: more values than the 2 header"):
        load_rows(str(ragged))


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    path.write_text("<a/>")
    with pytest.raises(LmauditError, match=r"d\.xml: unsupported file type"):
        load_rows(str(path))


def test_hub_failure_names_id_and_suggests_local_file(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls: list[tuple] = []

    def offline(path: str, name: str | None = None, split: str | None = None) -> None:
        calls.append((path, name, split))
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=2.0: False)
    with pytest.raises(LmauditError) as error:
        load_rows("someorg/some-dataset", split="test", name="main")
    message = str(error.value)
    assert calls == [("someorg/some-dataset", "main", "test")]
    assert "'someorg/some-dataset' (config 'main', split 'test')" in message
    assert "no network/hub access" in message and "data=PATH" in message


def test_hub_rows_become_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    fake = datasets.Dataset.from_list(ROWS)
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None: fake)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=2.0: False)
    assert load_rows("org/ds", split="test") == ROWS


def test_require_field_message() -> None:
    row = {"question": "q", "answer": "a", "id": 3}
    assert require_field(row, "answer", source="f.jsonl", row_index=4) == "a"
    with pytest.raises(LmauditError) as error:
        require_field(row, "choices", source="f.jsonl", row_index=4)
    assert str(error.value) == (
        "f.jsonl: row 4: missing field 'choices' (fields present: question, answer, id)"
    )


def test_sha256_values(tmp_path: Path) -> None:
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    # FIPS 180-2 test vector for "abc".
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    listing = f"abc.txt {file_sha256(path)}\n".encode()
    assert combined_sha256([path]) == hashlib.sha256(listing).hexdigest()


def test_data_source_describe_and_identity(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    source = DataSource(str(path), "test")
    info = source.describe()
    assert info["file"] == str(path.resolve()) and info["sha256"] == file_sha256(path)
    assert source.rows() == ROWS
    assert source.same_as(DataSource(str(path), "train"))  # one file: the split is moot
    assert not DataSource("org/ds", "test").same_as(DataSource("org/ds", "train"))
    assert DataSource("org/ds", "test").describe() == {
        "path": "org/ds", "split": "test", "name": None, "hub": True,
    }
