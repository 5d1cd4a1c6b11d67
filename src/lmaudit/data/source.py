"""A named dataset split (local file or hub id) that loads once and describes itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmaudit.data.loading import file_sha256, load_rows, resolve_local


@dataclass
class DataSource:
    """Rows of `path` (local file, directory or hub id), `split`, hub config `name`.

    `rows()` loads on first call and caches. `describe()` is what goes into a task spec:
    path, split, config and, for local data, the resolved file and its sha256.
    """

    path: str
    split: str | None = None
    name: str | None = None
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def local_file(self) -> Path | None:
        return resolve_local(self.path, self.split)

    def label(self) -> str:
        """How errors name this source: the local file, else `hub:id[config]/split`."""
        local = self.local_file()
        if local is not None:
            return str(local)
        config = f"[{self.name}]" if self.name else ""
        return f"hub:{self.path}{config}/{self.split}"

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = load_rows(self.path, split=self.split, name=self.name)
        return self._rows

    def describe(self, *, hash_files: bool = True) -> dict[str, Any]:
        info: dict[str, Any] = {"path": self.path, "split": self.split, "name": self.name}
        local = self.local_file()
        if local is not None:
            info["file"] = str(local.resolve())
            if hash_files:
                info["sha256"] = file_sha256(local)
        else:
            info["hub"] = True
        return info

    def same_as(self, other: DataSource) -> bool:
        """Both name the same rows (same resolved file, or same hub id, config and split)."""
        mine, theirs = self.local_file(), other.local_file()
        if mine is not None or theirs is not None:
            return mine is not None and theirs is not None and mine.resolve() == theirs.resolve()
        return (self.path, self.name, self.split) == (other.path, other.name, other.split)
