"""Streaming corpus readers: jsonl, parquet and plain text, optionally `.gz` or `.zst`.

A corpus is cut into `Shard`s (units of parallel work: a byte range of an uncompressed
jsonl file, a row group of a parquet file, or a whole compressed / text file), and each
shard is read as `Chunk`s of about `chunk_bytes` of text: the raw UTF-8 bytes of several
documents joined by NUL (`DOC_SEPARATOR`), plus their ids. Nothing holds more than one
chunk per worker in memory.

Documents and their ids:
- jsonl: one JSON object per line, text in `text_field`; id from `id_field` when present,
  else `"{file name}@{byte offset of the line}"` (offset in the decompressed stream).
- parquet: one row per document, same fields; default id `"{file name}#{row}"`.
- plain text (any other extension): paragraphs separated by blank lines; id
  `"{file name}@{byte offset of the paragraph}"`. The bytes are never decoded. A
  paragraph longer than 16 chunks is split at a line end (memory stays bounded).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.contamination.normalize import DOC_SEPARATOR
from lmaudit.core.types import LmauditError

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}
_PARAGRAPH = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_MAX_PARAGRAPH_CHUNKS = 16


@dataclass(frozen=True)
class Shard:
    """A unit of work: `start`/`end` are byte offsets (jsonl) or a row group (parquet)."""

    path: str
    fmt: str  # "jsonl", "parquet" or "text"
    compression: str | None
    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class Chunk:
    """Raw UTF-8 bytes of `len(doc_ids)` documents joined by NUL."""

    data: bytes
    doc_ids: list[str]


def file_format(path: Path) -> tuple[str, str | None]:
    """(format, compression) from the file name, e.g. `x.jsonl.zst` → ("jsonl", "zstd")."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in (".jsonl", ".ndjson", ".json"):
        return "jsonl", compression
    if last == ".parquet":
        if compression:
            raise LmauditError(f"{path}: compressed parquet files are not supported")
        return "parquet", None
    return "text", compression


def expand_paths(paths: list[str]) -> list[Path]:
    """Files named, and files under directories named (sorted, hidden files skipped)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise LmauditError(f"corpus path not found: {path}")
    if not files:
        raise LmauditError(f"no corpus files under {', '.join(paths)}")
    return files


def plan_shards(paths: list[str], shard_bytes: int = 64 << 20) -> list[Shard]:
    """Cut the corpus into shards of about `shard_bytes` where the format allows it."""
    shards: list[Shard] = []
    for path in expand_paths(paths):
        fmt, compression = file_format(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            groups = pq.ParquetFile(path).num_row_groups
            shards.extend(Shard(str(path), fmt, None, g, g + 1) for g in range(groups))
        elif fmt == "jsonl" and compression is None:
            size = path.stat().st_size
            starts = range(0, max(size, 1), shard_bytes)
            shards.extend(
                Shard(str(path), fmt, None, s, min(s + shard_bytes, size)) for s in starts
            )
        else:
            shards.append(Shard(str(path), fmt, compression))
    return shards


def _open_binary(path: str, compression: str | None) -> io.BufferedIOBase:
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zstd":
        try:
            import zstandard
        except ImportError as error:
            raise LmauditError(
                f"{path}: reading .zst files needs the zstandard package "
                "(pip install zstandard)"
            ) from error
        raw = open(path, "rb")  # noqa: SIM115  (closed with the reader)
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)
    return open(path, "rb")


def iter_chunks(
    shard: Shard, *, text_field: str = "text", id_field: str = "id", chunk_bytes: int = 1 << 18
) -> Iterator[Chunk]:
    """Stream a shard as chunks of about `chunk_bytes` of document text.

    A damaged file (a truncated or corrupt `.gz`/`.zst`, an unreadable parquet file) is a
    `LmauditError` naming the file, not a traceback.
    """
    try:
        if shard.fmt == "parquet":
            yield from _parquet_chunks(shard, text_field, id_field, chunk_bytes)
        elif shard.fmt == "jsonl":
            yield from _jsonl_chunks(shard, text_field, id_field, chunk_bytes)
        else:
            yield from _text_chunks(shard, chunk_bytes)
    except LmauditError:
        raise
    except (OSError, EOFError, zlib.error, ValueError) as error:
        what = f"{shard.compression} " if shard.compression else ""
        raise LmauditError(
            f"{shard.path}: damaged {what}{shard.fmt} file ({type(error).__name__}: "
            f"{str(error)[:200]}); re-download it or remove it from --corpus"
        ) from None


def _pack(texts: list[str], ids: list[str]) -> Chunk:
    if not texts:
        return Chunk(b"", [])
    data = "\x00".join(texts).encode("utf-8", "replace")
    if data.count(DOC_SEPARATOR) != len(texts) - 1:  # a text holds NUL itself
        data = "\x00".join(t.replace("\x00", " ") for t in texts).encode("utf-8", "replace")
    return Chunk(data, ids)


def _jsonl_chunks(shard: Shard, text_field: str, id_field: str, size: int) -> Iterator[Chunk]:
    """Read blocks of whole lines; a line belongs to the shard holding its first byte."""
    name = Path(shard.path).name
    with _open_binary(shard.path, shard.compression) as handle:
        offset = 0
        if shard.start > 0:
            handle.seek(shard.start - 1)
            offset = shard.start - 1 + len(handle.readline())
        pending = b""
        while shard.end is None or offset < shard.end:
            block = handle.read(size)
            data = pending + block
            if not data:
                break
            cut = len(data) if not block else data.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: keep reading
                pending = data
                continue
            piece, pending = data[:cut], data[cut:]
            if shard.end is not None and offset + len(piece) > shard.end:
                last = piece.find(b"\n", shard.end - offset - 1)
                piece = piece if last < 0 else piece[: last + 1]
            if piece.strip():
                chunk = _parse_block(shard.path, name, piece, offset, text_field, id_field)
                if chunk.doc_ids:
                    yield chunk
            offset += len(piece)
            if not block:
                break


def _line_starts(piece: bytes) -> list[int]:
    ends = np.flatnonzero(np.frombuffer(piece, dtype=np.uint8) == 10) + 1
    return [0, *ends[ends < len(piece)].tolist()]


def _parse_block(
    path: str, name: str, piece: bytes, offset: int, text_field: str, id_field: str
) -> Chunk:
    """Parse a block of jsonl lines with one `json.loads` call; on failure line by line,
    skipping blank lines and naming the line at fault."""
    starts: list[int] | None = None
    try:
        rows: list[Any] = json.loads(b"[" + piece.rstrip().replace(b"\n", b",") + b"]")
        texts = [row[text_field] for row in rows]
    except (ValueError, KeyError, TypeError, RecursionError):
        starts = []
        rows, texts = [], []
        for line_start, line in zip(_line_starts(piece), piece.split(b"\n"), strict=False):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                texts.append(row[text_field])
                rows.append(row)
                starts.append(line_start)
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                raise LmauditError(
                    f"{path} @ byte {offset + line_start}: not a JSON object with a "
                    f"{text_field!r} field ({error})"
                ) from error
    keep = [i for i, text in enumerate(texts) if isinstance(text, str)]
    raw_ids = [rows[i].get(id_field) for i in keep]
    if any(doc_id is None for doc_id in raw_ids) and starts is None:
        starts = _line_starts(piece)
    ids = [
        f"{name}@{offset + starts[i]}" if doc_id is None and starts is not None else str(doc_id)
        for i, doc_id in zip(keep, raw_ids, strict=True)
    ]
    return _pack([texts[i] for i in keep], ids)


def _parquet_chunks(
    shard: Shard, text_field: str, id_field: str, size: int
) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    name = Path(shard.path).name
    parquet = pq.ParquetFile(shard.path)
    names = set(parquet.schema_arrow.names)
    if text_field not in names:
        raise LmauditError(f"{shard.path}: no column {text_field!r} (columns: {sorted(names)})")
    columns = [text_field] + ([id_field] if id_field in names else [])
    metadata = parquet.metadata
    row = sum(metadata.row_group(g).num_rows for g in range(shard.start))
    for batch in parquet.iter_batches(
        batch_size=max(64, size // 2048), row_groups=[shard.start], columns=columns
    ):
        texts = batch.column(0).to_pylist()
        raw_ids = batch.column(1).to_pylist() if len(columns) > 1 else [None] * len(texts)
        keep = [i for i, t in enumerate(texts) if isinstance(t, str)]
        ids = [
            f"{name}#{row + i}" if raw_ids[i] is None else str(raw_ids[i]) for i in keep
        ]
        row += len(texts)
        if keep:
            yield _pack([texts[i] for i in keep], ids)


def _text_chunks(shard: Shard, size: int) -> Iterator[Chunk]:
    name = Path(shard.path).name
    with _open_binary(shard.path, shard.compression) as handle:
        pending = b""
        pending_offset = 0
        while True:
            block = handle.read(size)
            data = pending + block
            if not block:
                cut = len(data)
            else:
                ends = [m.end() for m in _PARAGRAPH.finditer(data)]
                if ends:
                    cut = ends[-1]
                elif len(data) < _MAX_PARAGRAPH_CHUNKS * size:  # keep reading
                    pending = data
                    continue
                else:  # an endless paragraph: split it at a line end to bound memory
                    cut = data.rfind(b"\n") + 1 or len(data)
            if cut:
                yield _paragraph_chunk(data[:cut], pending_offset, name)
            pending, pending_offset = data[cut:], pending_offset + cut
            if not block:
                return


def _paragraph_chunk(data: bytes, base: int, name: str) -> Chunk:
    data = data.replace(DOC_SEPARATOR, b" ")
    bounds = [(m.start(), m.end()) for m in _PARAGRAPH.finditer(data)]
    starts = [0] + [end for _, end in bounds]
    ids = [f"{name}@{base + s}" for s in starts]
    pieces = []
    previous = 0
    for start, end in bounds:
        pieces.append(data[previous:start])
        previous = end
    if previous < len(data):
        pieces.append(data[previous:])
    else:  # the data ends with a paragraph break: no empty last document
        ids.pop()
    return Chunk(DOC_SEPARATOR.join(pieces), ids)
