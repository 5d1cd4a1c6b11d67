"""Where lab models live: `$LMAUDIT_HOME/lab/<name>` (default `~/.cache/lmaudit/lab/<name>`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lmaudit.core.types import LmauditError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def lmaudit_home() -> Path:
    """The lmaudit cache root: `$LMAUDIT_HOME` when set, else `~/.cache/lmaudit`."""
    configured = os.environ.get("LMAUDIT_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "lmaudit"


def lab_dir() -> Path:
    """The folder that holds one sub-folder per trained lab model."""
    return lmaudit_home() / "lab"


def check_lab_name(name: str) -> str:
    """Return `name` if it is a valid lab model name (letters, digits, `.`, `_`, `-`)."""
    if not _NAME.match(name):
        raise LmauditError(
            f"invalid lab model name {name!r}: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def lab_model_path(name: str) -> Path:
    """The directory where the lab model `name` is (or would be) saved."""
    return lab_dir() / check_lab_name(name)


def is_lab_model_dir(path: Path) -> bool:
    """True if `path` holds a saved model (a `config.json`) and its tokenizer."""
    return (path / "config.json").is_file() and (path / "tokenizer.json").is_file()


def resolve_lab_model(name: str) -> Path:
    """The directory of an existing lab model; `lab:<name>` model specs resolve through this."""
    path = lab_model_path(name)
    if not is_lab_model_dir(path):
        raise LmauditError(
            f"no lab model named {name} in {lab_dir()}; train it with "
            f"`lmaudit lab train --name {name} ...`"
        )
    return path
