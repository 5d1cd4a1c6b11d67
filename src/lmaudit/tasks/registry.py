"""Named tasks: built-in factories, bundled YAML files, and YAML files given by path.

`load_task(name_or_path, options)`: a path ending in `.yaml`/`.yml`, or any existing file,
is a YAML task (`lmaudit.tasks.yaml_task`); anything else is looked up among registered
names. Factories take the command-line options (`--task-option KEY=VALUE`) as keyword
strings and reject unknown ones (`TaskOptions`).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError

TaskFactory = Callable[..., Task]
BUNDLED_DIR = Path(__file__).resolve().parent
_BUILTIN_MODULES = ("lmaudit.tasks.builtins", "lmaudit.tasks.ifeval")


@dataclass(frozen=True)
class TaskInfo:
    """One registered task: `type` is multiple_choice, generate or perplexity; `source`
    the module of its factory or the path of its YAML file."""

    name: str
    type: str
    description: str
    source: str


@dataclass(frozen=True)
class _Entry:
    info: TaskInfo
    factory: TaskFactory


_REGISTRY: dict[str, _Entry] = {}
_loaded = False


def register_task(
    name: str, description: str, *, task_type: str = "?"
) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator registering `factory(**options: str) -> Task` under `name`.

    A different factory under a taken name is a programming error (ValueError).
    """

    def decorator(factory: TaskFactory) -> TaskFactory:
        source = f"{factory.__module__}.{factory.__qualname__}"
        existing = _REGISTRY.get(name)
        if existing is not None and existing.info.source != source:
            raise ValueError(f"task {name!r} is already registered by {existing.info.source}")
        _REGISTRY[name] = _Entry(TaskInfo(name, task_type, description, source), factory)
        return factory

    return decorator


def _register_bundled_yaml() -> None:
    from lmaudit.tasks.yaml_task import load_yaml_task, read_yaml

    for file in sorted(BUNDLED_DIR.glob("*.yaml")):
        raw = read_yaml(file)
        name = str(raw.get("name", file.stem))
        description = str(raw.get("about", "")) or f"YAML task {file.name}"

        def factory(_file: Path = file, **options: str) -> Task:
            return load_yaml_task(_file, options)

        _REGISTRY.setdefault(
            name, _Entry(TaskInfo(name, str(raw.get("type", "?")), description, str(file)),
                         factory)
        )


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _register_bundled_yaml()


def task_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def list_tasks() -> list[TaskInfo]:
    """Every registered task, sorted by name."""
    _load_builtins()
    return [_REGISTRY[name].info for name in sorted(_REGISTRY)]


def is_task_file(name_or_path: str) -> bool:
    return name_or_path.endswith((".yaml", ".yml")) or Path(name_or_path).is_file()


def load_task(name_or_path: str, options: Mapping[str, str] | None = None) -> Task:
    """A task by registered name or YAML path, built with `options`."""
    options = dict(options or {})
    if name_or_path.startswith("lm-eval:"):
        from lmaudit.interop.lm_eval_task import load_lm_eval_task

        return load_lm_eval_task(name_or_path, options)
    if is_task_file(name_or_path):
        from lmaudit.tasks.yaml_task import load_yaml_task

        return load_yaml_task(name_or_path, options)
    _load_builtins()
    entry = _REGISTRY.get(name_or_path)
    if entry is None:
        close = difflib.get_close_matches(name_or_path, list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise LmauditError(
            f"unknown task {name_or_path!r}{hint} Registered tasks: "
            f"{', '.join(sorted(_REGISTRY))} (or pass a path to a YAML task file)"
        )
    return entry.factory(**options)


class TaskOptions:
    """A factory's options: typed getters, and an error for any option left unread."""

    def __init__(self, task: str, options: Mapping[str, str], allowed: Mapping[str, str]):
        self.task = task
        self.allowed = dict(allowed)
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            valid = "; ".join(f"{k} ({v})" for k, v in self.allowed.items()) or "none"
            raise LmauditError(
                f"task {task}: unknown option {unknown[0]!r}; valid options: {valid}"
            )
        self.options = dict(options)

    def text(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.options.get(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise LmauditError(
                f"task {self.task}: option {key}={value!r} must be an integer"
            ) from None
        if number < minimum:
            raise LmauditError(f"task {self.task}: option {key} must be >= {minimum}")
        return number

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.options.get(key, default)
        if value not in allowed:
            raise LmauditError(
                f"task {self.task}: option {key}={value!r} must be one of {', '.join(allowed)}"
            )
        return value

    def think_tags(self) -> tuple[str, str] | None:
        """Option `think_tags` (`lmaudit.scoring.thinking.parse_tags`: OPEN,CLOSE, default
        `<think>,</think>`, `none` for no removal); a bad value is a one-line error."""
        from lmaudit.scoring.thinking import parse_tags

        try:
            return parse_tags(self.text("think_tags"))
        except ValueError as error:
            raise LmauditError(f"task {self.task}: {error}") from None

    def spec(self) -> dict[str, Any]:
        return dict(sorted(self.options.items()))


def think_tags_help(removed_before: str) -> str:
    """The help line of a task's `think_tags` option; `removed_before` says what the
    thinking is removed before (e.g. "scoring")."""
    return (f"thinking tags OPEN,CLOSE removed before {removed_before} (default "
            "<think>,</think>; none to keep everything)")
