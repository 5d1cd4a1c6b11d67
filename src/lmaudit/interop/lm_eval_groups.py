"""lm-evaluation-harness task directories, groups and tags (0.4.13 semantics).

A directory's index: every `*.yaml` below it (sorted by path; `__pycache__` and
`.ipynb_checkpoints` skipped), `include` chains merged. A file with a `group` key is a
group, else one with a `task` key a task (others, such as shared bases, are skipped). A
task's `tag` (a name or a list) files it under each tag: a tag is a plain list of tasks,
with no aggregate.

A group's `task:` list holds, in order:
- a name: a task (built with the group's overrides), a group, or a tag (its tasks, sorted
  by name);
- `{task: NAME, key: value, ...}`: that task with those keys overriding its own; an
  unknown NAME is an inline task named `GROUP::NAME`, built from the mapping alone;
- `{group: NAME, ...}`: that group with overrides, or an inline group `PARENT::NAME`.
Keys of a group file other than `group`, `group_alias`, `task`, `aggregate_metric_list`
and `metadata` are overrides handed to every member (the caller's win over the group's).

`aggregate_metric_list` entries (`metric`, `filter_list`, `aggregation: mean`,
`weight_by_size`, default true) are aggregated by `lmaudit.interop.lm_eval_suite` over
every task below the group, nested groups included, as lm-eval does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.interop.lm_eval_yaml import read_task_yaml

GROUP_KEYS = frozenset({"group", "group_alias", "task", "aggregate_metric_list", "metadata"})
IGNORED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class Entry:
    """One name of a directory's index: a task, a group or a tag."""

    name: str
    kind: str  # "task", "group" or "tag"
    file: Path | None
    config: Mapping[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()  # a tag's tasks


@dataclass(frozen=True)
class LeafTask:
    """A task to run: its name, its config (overrides applied) and the file it came from."""

    name: str
    config: Mapping[str, Any]
    file: Path


@dataclass(frozen=True)
class Aggregate:
    """One `aggregate_metric_list` entry (filters None: every filter the tasks report)."""

    metric: str
    filters: tuple[str, ...] | None
    weight_by_size: bool


@dataclass(frozen=True)
class Group:
    """A group: its members in order and the metrics it aggregates."""

    name: str
    children: tuple[LeafTask | Group, ...]
    aggregates: tuple[Aggregate, ...] = ()
    alias: str | None = None

    def leaves(self) -> list[LeafTask]:
        """Every task below the group, nested groups included, in order."""
        found: list[LeafTask] = []
        for child in self.children:
            found.extend(child.leaves() if isinstance(child, Group) else [child])
        return found

    def groups(self) -> list[Group]:
        """This group and every group below it."""
        return [self] + [g for c in self.children if isinstance(c, Group) for g in c.groups()]


def build_index(root: Path) -> tuple[dict[str, Entry], list[str]]:
    """The index of every task, group and tag below `root`, and one line per file that
    could not be read."""
    index: dict[str, Entry] = {}
    tags: dict[str, list[str]] = {}
    problems: list[str] = []
    files = sorted((p for p in root.glob("**/*.yaml")
                    if not IGNORED_DIRS.intersection(p.parts)), key=lambda p: p.as_posix())
    for file in files:
        try:
            config = read_task_yaml(file)
        except LmauditError as error:
            problems.append(str(error))
            continue
        if "group" in config:
            index.setdefault(str(config["group"]), Entry(str(config["group"]), "group", file,
                                                         config))
        elif "task" in config and isinstance(config["task"], str):
            name = str(config["task"])
            if name in index:
                continue  # lm-eval keeps the first file of a name
            index[name] = Entry(name, "task", file, config)
            tag = config.get("tag")
            for tag_name in [tag] if isinstance(tag, str) else list(tag or []):
                tags.setdefault(str(tag_name), []).append(name)
    for tag_name, members in tags.items():
        index.setdefault(tag_name, Entry(tag_name, "tag", None, members=tuple(sorted(members))))
    return index, problems


def _aggregates(value: Any, where: str) -> tuple[Aggregate, ...]:
    if value is None:
        return ()
    entries = [value] if isinstance(value, Mapping) else list(value)
    found = []
    for entry in entries:
        if not isinstance(entry, Mapping) or "metric" not in entry:
            raise LmauditError(f"{where}: aggregate_metric_list entries need a `metric`")
        if entry.get("aggregation", "mean") != "mean":
            raise LmauditError(f"{where}: aggregation {entry['aggregation']!r} is not "
                               "supported (lm-eval's built-in is mean)")
        filters = entry.get("filter_list")
        filters = None if filters is None else (
            (str(filters),) if isinstance(filters, str) else tuple(str(f) for f in filters))
        found.append(Aggregate(str(entry["metric"]), filters,
                               bool(entry.get("weight_by_size", True))))
    return tuple(found)


class Resolver:
    """Builds tasks, groups and tags of one index as lm-eval's task factory does."""

    def __init__(self, index: Mapping[str, Entry], root: Path, problems: list[str]) -> None:
        self.index = index
        self.root = root
        self.problems = problems
        self._open: list[str] = []  # the groups being built, outermost first

    def _entry(self, name: str, where: str) -> Entry:
        entry = self.index.get(name)
        if entry is None:
            hint = f" ({len(self.problems)} file(s) unreadable, first: {self.problems[0]})" \
                if self.problems else ""
            raise LmauditError(f"{where}: no task, group or tag named {name!r} in "
                               f"{self.root}{hint}")
        return entry

    def task(self, entry: Entry, overrides: Mapping[str, Any]) -> LeafTask:
        config = {k: v for k, v in {**entry.config, **overrides}.items()
                  if k not in ("tag", "group", "task_list")}
        assert entry.file is not None
        return LeafTask(str(config["task"]), config, entry.file)

    def build(self, name: str, overrides: Mapping[str, Any], where: str
              ) -> list[LeafTask | Group]:
        """What `name` stands for: [a task], [a group], or a tag's tasks."""
        entry = self._entry(name, where)
        if entry.kind == "tag":
            return [self.task(self._entry(m, f"tag {name}"), {**overrides, "task": m})
                    for m in entry.members]
        if entry.kind == "group":
            assert entry.file is not None
            return [self.group(name, entry.config, overrides, entry.file)]
        return [self.task(entry, {**overrides, "task": name})]

    def group(self, name: str, config: Mapping[str, Any], overrides: Mapping[str, Any],
              file: Path) -> Group:
        """A group and its members (module docstring); a group that contains itself, directly
        or through others, is one error naming the loop."""
        if name in self._open:
            loop = " -> ".join([*self._open[self._open.index(name):], name])
            raise LmauditError(f"{file}: group {name} contains itself ({loop})")
        self._open.append(name)
        try:
            return self._group(name, config, overrides, file)
        finally:
            self._open.pop()

    def _group(self, name: str, config: Mapping[str, Any], overrides: Mapping[str, Any],
               file: Path) -> Group:
        where = f"{file}: group {name}"
        merged = {**{k: v for k, v in config.items() if k not in GROUP_KEYS}, **overrides}
        members = config.get("task")
        members = [members] if isinstance(members, str) else list(members or [])
        children: list[LeafTask | Group] = []
        for item in members:
            if isinstance(item, str):
                children += self.build(item, merged, where)
            elif isinstance(item, Mapping) and "group" in item:
                sub = str(item["group"])
                rest = {k: v for k, v in item.items() if k != "group"}
                if sub in self.index:
                    children += self.build(sub, {**merged, **rest}, where)
                else:
                    children.append(self.group(f"{name}::{sub}", item, merged, file))
            elif isinstance(item, Mapping) and "task" in item:
                base = str(item["task"])
                item_overrides = {**merged, **item}
                if base in self.index:
                    children += self.build(base, item_overrides, where)
                else:
                    children.append(LeafTask(f"{name}::{base}",
                                             {**item_overrides, "task": f"{name}::{base}"}, file))
            else:
                raise LmauditError(f"{where}: a member must be a name or a mapping with "
                                   f"`task` or `group`, got {item!r}")
        alias = config.get("group_alias")
        return Group(name, tuple(children), _aggregates(config.get("aggregate_metric_list"),
                                                        where),
                     None if alias is None else str(alias))


def resolve(root: Path, names: list[str] | None) -> list[LeafTask | Group]:
    """The tasks and groups that `names` select in the index of `root` (every task of
    the directory when `names` is None)."""
    index, problems = build_index(root)
    resolver = Resolver(index, root, problems)
    if names is None:
        tasks = [resolver.task(e, {}) for e in index.values() if e.kind == "task"]
        if not tasks:
            hint = f"; first unreadable file: {problems[0]}" if problems else ""
            raise LmauditError(f"{root}: no lm-eval task file in this directory{hint}")
        return list(tasks)
    selected: list[LeafTask | Group] = []
    for name in names:
        selected += resolver.build(name, {}, f"lm-eval:{root}")
    return selected
