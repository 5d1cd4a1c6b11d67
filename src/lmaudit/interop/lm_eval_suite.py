"""Several lm-eval tasks as one lmaudit run, with lm-eval's group aggregates.

Samples are every member task's samples, ids `TASK/DOC_ID`. A member's metric `m` is
reported as `TASK/m`. A group's `aggregate_metric_list` entry for metric `m` (filter
`none` is lmaudit's bare `m`, any other filter `m,FILTER`; with no `filter_list`, every
filter a member reports) is reported as `GROUP/m` over every task below the group:
- `weight_by_size: true` (lm-eval's default): the mean over all the tasks' samples, which
  is lm-eval's size-weighted mean of the task means (interval: Wilson or t over samples);
- `weight_by_size: false`: the plain mean of the task means, a ratio of sums with each
  sample weighted by 1/(its task's size) (bootstrap interval).
Ratio metrics (perplexity, bits per byte) get no group aggregate (lm-eval averages the
tasks' perplexities; lmaudit names this in a note rather than doing it).

To evaluate part of each task use the task option `limit=N` (lm-eval's `--limit`: the
first N documents of every task); `lmaudit run --limit` cuts the suite's sample list,
whose first tasks come first, and the plain mean still weights each task by its full size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec, Task, task_annotations
from lmaudit.core.types import LmauditError, Request, RequestKind, Response, Sample, SampleRecord
from lmaudit.interop.lm_eval_groups import Group, LeafTask


def _metric_key(metric: str, filter_name: str) -> str:
    return metric if filter_name == "none" else f"{metric},{filter_name}"


class LmEvalSuite:
    """Member tasks run together; group aggregates as lm-eval computes them."""

    def __init__(self, name: str, members: Sequence[tuple[str, Task]],
                 groups: Sequence[Group]) -> None:
        names = [n for n, _ in members]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise LmauditError(f"lm-eval suite {name}: task {repeated[0]!r} is selected twice "
                               "(in two groups, or alone and in a group)")
        self._name = name
        self.members = dict(members)
        self.groups = tuple(groups)
        self._origin: dict[str, tuple[str, Sample]] = {}
        self._sizes: dict[str, int] = {}
        self._notes: list[str] = []
        self._group_specs, self._group_columns = self._plan_groups()

    @property
    def name(self) -> str:
        return self._name

    def _plan_groups(self) -> tuple[list[MetricSpec], dict[str, list[tuple[str, str, bool]]]]:
        """Group metric specs, and per task: (its metric, group column, weighted) triples."""
        specs: list[MetricSpec] = []
        columns: dict[str, list[tuple[str, str, bool]]] = {n: [] for n in self.members}
        for group in self.groups:
            leaves = [leaf.name for leaf in group.leaves()]
            for aggregate in group.aggregates:
                reported = {leaf: {s.name: s for s in self.members[leaf].metrics}
                            for leaf in leaves}
                filters = aggregate.filters
                if filters is None:
                    found = {"none" if n == aggregate.metric else n.split(",", 1)[1]
                             for specs_ in reported.values() for n in specs_
                             if n == aggregate.metric or n.startswith(aggregate.metric + ",")}
                    filters = tuple(sorted(found))
                for filter_name in filters:
                    key = _metric_key(aggregate.metric, filter_name)
                    having = [leaf for leaf in leaves if key in reported[leaf]]
                    member_specs = [reported[leaf][key] for leaf in having]
                    if any(s.aggregation is Aggregation.RATIO for s in member_specs):
                        self._notes.append(f"group {group.name}: {key} is a ratio metric; "
                                           "lmaudit reports no group aggregate of it")
                        continue
                    if not having:
                        self._notes.append(f"group {group.name}: no task reports {key}")
                        continue
                    column = f"{group.name}/{key}"
                    first = member_specs[0]
                    if aggregate.weight_by_size:
                        kind = (Aggregation.PROPORTION if all(
                            s.aggregation is Aggregation.PROPORTION for s in member_specs)
                            else Aggregation.MEAN)
                        specs.append(MetricSpec(column, kind, higher_is_better=(
                            first.higher_is_better), bounds=first.bounds))
                    else:
                        specs.append(MetricSpec(column, Aggregation.RATIO, f"{column}@sum",
                                                f"{column}@weight",
                                                higher_is_better=first.higher_is_better))
                    for leaf in having:
                        columns[leaf].append((key, column, aggregate.weight_by_size))
        return specs, columns

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset().union(*(t.request_kinds for t in self.members.values()))

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        own = [replace(spec, name=f"{task}/{spec.name}",
                       numerator=spec.numerator and f"{task}/{spec.numerator}",
                       denominator=spec.denominator and f"{task}/{spec.denominator}")
               for task, member in self.members.items() for spec in member.metrics]
        return (*self._group_specs, *own)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": "lm-eval-suite",
                "tasks": {name: task.spec() for name, task in self.members.items()},
                "groups": [{"name": g.name, "tasks": [leaf.name for leaf in g.leaves()],
                            "aggregates": [vars(a) for a in g.aggregates]}
                           for g in self.groups]}

    def samples(self) -> list[Sample]:
        samples: list[Sample] = []
        for task_name, task in self.members.items():
            own = task.samples()
            self._sizes[task_name] = len(own)
            for sample in own:
                suite_id = f"{task_name}/{sample.id}"
                self._origin[suite_id] = (task_name, sample)
                samples.append(replace(sample, id=suite_id, metadata={
                    **sample.metadata, "lm_eval_task": task_name}))
        return samples

    def _member(self, sample: Sample) -> tuple[str, Task, Sample]:
        if not self._origin:
            self.samples()
        if sample.id not in self._origin:
            raise LmauditError(f"lm-eval suite {self.name}: unknown sample {sample.id!r}")
        task_name, original = self._origin[sample.id]
        return task_name, self.members[task_name], original

    def requests(self, sample: Sample) -> list[Request]:
        _, task, original = self._member(sample)
        return task.requests(original)

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        task_name, task, original = self._member(sample)
        record = task.score(original, responses)
        metrics = {f"{task_name}/{k}": v for k, v in record.metrics.items()}
        size = self._sizes[task_name]
        for key, column, weighted in self._group_columns[task_name]:
            if key not in record.metrics:
                continue
            if weighted:
                metrics[column] = record.metrics[key]
            else:
                metrics[f"{column}@sum"] = record.metrics[key] / size
                metrics[f"{column}@weight"] = 1.0 / size
        return replace(record, sample_id=sample.id, metrics=metrics)

    def notes(self) -> list[str]:
        member_notes = [f"{name}: {note}" for name, task in self.members.items()
                        for note in task_annotations(task).get("notes", [])]
        return [*self._notes, *member_notes]


def load_suite(path: Path, options: Mapping[str, str],
               group_config: Mapping[str, Any] | None = None) -> Task:
    """The suite of a directory (every task, or the `tasks` option's names) or of a group
    file (`group_config`: its mapping; its members are looked up below `include_path`,
    default the file's folder); one selected task alone is that task."""
    from lmaudit.interop.lm_eval_groups import Resolver, build_index, resolve
    from lmaudit.interop.lm_eval_task import task_from_config

    names = [n.strip() for n in options.get("tasks", "").split(",") if n.strip()] or None
    member_options = {k: v for k, v in options.items() if k not in ("tasks", "include_path")}
    if group_config is not None:
        root = Path(options.get("include_path") or path.parent).expanduser()
        index, problems = build_index(root)
        name = str(group_config["group"])
        selected: list[LeafTask | Group] = [
            Resolver(index, root, problems).group(name, group_config, {}, path)]
    else:
        if not path.is_dir():
            raise LmauditError(f"lm-eval:{path}: the `tasks` option selects names in a "
                               "directory; pass lm-eval:DIR")
        selected = resolve(path, names)
        name = selected[0].name if len(selected) == 1 else path.resolve().name
    leaves = [leaf for item in selected
              for leaf in (item.leaves() if isinstance(item, Group) else [item])]
    if len(selected) == 1 and isinstance(selected[0], LeafTask):
        return task_from_config(leaves[0].config, leaves[0].file, member_options)
    groups = [g for item in selected if isinstance(item, Group) for g in item.groups()]
    members = [(leaf.name, task_from_config(leaf.config, leaf.file, member_options))
               for leaf in leaves]
    return LmEvalSuite(name, members, groups)
