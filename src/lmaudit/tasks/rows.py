"""From dataset rows to samples, and from a data source plus a row format to a task.

`RowFormat` says how one row becomes a `Sample`: the prompt template, the options, the
target and the optional id / cluster fields (template rules in `lmaudit.tasks.prompting`).
A `target` or `text` without braces names a field; with braces it is a template.
`build_task` wires a `DataSource`, a `RowFormat` and an optional few-shot config into one
of the generic task types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.tasks.fewshot import FewshotConfig, FewshotSelector
from lmaudit.tasks.generic import GenerateTask, MultipleChoiceTask, PerplexityTask
from lmaudit.tasks.prompting import (
    render_template,
    resolve_choices,
    resolve_target_index,
    template_fields,
)

TASK_TYPES = ("multiple_choice", "generate", "perplexity")

# (rows, source label for errors) in, (row index, row) pairs out: filter, reorder or add
# fields before rendering.
RowPrepare = Callable[[list[dict[str, Any]], str], list[tuple[int, dict[str, Any]]]]


def _is_template(text: str) -> bool:
    return "{" in text


@dataclass(frozen=True)
class RowFormat:
    """How a row becomes a sample (see the module docstring)."""

    task_type: str
    prompt: str = ""
    target: str | None = None
    choices: str | tuple[str, ...] | None = None
    target_kind: str = "auto"
    text: str | None = None
    id_field: str | None = None
    cluster_field: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        """Every template is checked here, when the task is built (before any model loads):
        a malformed or disallowed template is a `LmauditError` naming its key."""
        templates = [("prompt", self.prompt), ("description", self.description)]
        templates += [(key, spec) for key, spec in (("target", self.target), ("text", self.text))
                      if spec is not None and _is_template(spec)]
        if isinstance(self.choices, tuple):
            templates += [(f"choices[{i}]", c) for i, c in enumerate(self.choices)]
        for key, template in templates:
            try:
                template_fields(template)
            except ValueError as error:
                raise LmauditError(f"{key} template {template[:80]!r}: {error}") from None

    def _value(self, spec: str, row: Mapping[str, Any], where: str, i: int, key: str) -> Any:
        if _is_template(spec):
            return render_template(spec, row, source=where, row_index=i, key=key)
        return require_field(row, spec, source=where, row_index=i)

    def sample(self, index: int, row: Mapping[str, Any], *, where: str) -> Sample:
        """The sample of `row` (number `index` in its source); errors name `where` and row."""
        sample_id = (
            str(require_field(row, self.id_field, source=where, row_index=index))
            if self.id_field
            else str(index)
        )
        metadata: dict[str, Any] = {"fields": dict(row), "row_index": index}
        if self.cluster_field:
            cluster = require_field(row, self.cluster_field, source=where, row_index=index)
            metadata["cluster"] = str(cluster)
        if self.description and template_fields(self.description):
            metadata["description"] = render_template(
                self.description, row, source=where, row_index=index, key="description"
            )
        if self.task_type == "perplexity":
            text = self._value(self.text or "text", row, where, index, "text")
            if not isinstance(text, str):
                raise LmauditError(f"{where}: row {index}: text must be a string")
            return Sample(sample_id, text, "", metadata=metadata)
        prompt = render_template(self.prompt, row, source=where, row_index=index)
        if self.target is None:
            raise ValueError("RowFormat.target is required for this task type")
        raw_target = self._value(self.target, row, where, index, "target")
        if self.task_type == "generate":
            return Sample(sample_id, prompt, str(raw_target), metadata=metadata)
        if isinstance(self.choices, str):
            value = require_field(row, self.choices, source=where, row_index=index)
            options, labels = resolve_choices(value, source=where, row_index=index)
        elif self.choices:
            options = tuple(
                render_template(c, row, source=where, row_index=index, key="choices")
                for c in self.choices
            )
            labels = None
        else:
            raise ValueError("RowFormat.choices is required for multiple choice")
        target = resolve_target_index(
            raw_target, options, labels, source=where, row_index=index, kind=self.target_kind
        )
        return Sample(sample_id, prompt, target, choices=options, metadata=metadata)

    def samples(
        self, source: DataSource, *, where: str, prepare: RowPrepare | None = None
    ) -> list[Sample]:
        rows = source.rows()
        indexed = prepare(rows, where) if prepare else list(enumerate(rows))
        samples = [self.sample(i, row, where=where) for i, row in indexed]
        if not samples:
            raise LmauditError(
                f"{where}: no samples to evaluate ({len(rows)} rows"
                + (", none kept" if rows else "") + ")"
            )
        seen: dict[str, int] = {}
        for (i, _), sample in zip(indexed, samples, strict=True):
            if sample.id in seen:
                raise LmauditError(
                    f"{where}: row {i}: sample id {sample.id!r} repeats row {seen[sample.id]}"
                )
            seen[sample.id] = i
        return samples


DataSpec = Callable[[bool], dict[str, Any]]


def sample_loaders(
    row_format: RowFormat,
    source: DataSource,
    *,
    origin: str,
    prepare: RowPrepare | None = None,
    fewshot: FewshotConfig | None = None,
    fewshot_source: DataSource | None = None,
    fewshot_prepare: RowPrepare | None = None,
) -> tuple[Callable[[], list[Sample]], FewshotSelector | None, DataSpec]:
    """What a task built from rows needs: a loader of its samples (read once, on first use),
    its few-shot selector (examples from `fewshot_source`, default `source`; a sample is
    never its own example when both name the same rows; `fewshot_prepare` defaults to
    `prepare`) and its data description (`data_spec(load_data)`)."""
    where = f"{origin}: {source.label()}"
    cache: dict[str, list[Sample]] = {}

    def load() -> list[Sample]:
        if "eval" not in cache:
            cache["eval"] = row_format.samples(source, where=where, prepare=prepare)
        return cache["eval"]

    selector = None
    if fewshot is not None and fewshot.n > 0:
        pool_source = fewshot_source or source
        same = pool_source.same_as(source)
        pool_where = f"{origin}: {pool_source.label()}"

        def load_pool() -> list[Sample]:
            if same:
                return load()
            return row_format.samples(
                pool_source, where=pool_where, prepare=fewshot_prepare or prepare
            )

        selector = FewshotSelector(
            fewshot, load_pool, exclude_self=same, pool_name=pool_source.label()
        )

    def data_spec(load_data: bool) -> dict[str, Any]:
        info = {"eval": source.describe(hash_files=load_data)}
        if selector is not None and fewshot_source is not None:
            info["fewshot"] = fewshot_source.describe(hash_files=load_data)
        return info

    return load, selector, data_spec


def build_task(
    name: str,
    row_format: RowFormat,
    source: DataSource,
    *,
    origin: str,
    fewshot: FewshotConfig | None = None,
    fewshot_source: DataSource | None = None,
    prepare: RowPrepare | None = None,
    target_delimiter: str = " ",
    fewshot_delimiter: str = "\n\n",
    config: Mapping[str, Any] | None = None,
    generate_options: Mapping[str, Any] | None = None,
) -> Task:
    """A generic task over `source`. Few-shot examples come from `fewshot_source` (default:
    `source` itself); a sample is never its own example when both name the same rows.
    Errors about a row name `origin` (the task file or name) and the data source."""
    load, selector, data_spec = sample_loaders(
        row_format, source, origin=origin, prepare=prepare, fewshot=fewshot,
        fewshot_source=fewshot_source,
    )

    common: dict[str, Any] = dict(
        fewshot=selector,
        # A description without fields is task-wide (format() only unescapes {{ and }}).
        description=(
            "" if template_fields(row_format.description) else row_format.description.format()
        ),
        target_delimiter=target_delimiter,
        fewshot_delimiter=fewshot_delimiter,
        config={**dict(config or {}), "row_format": _format_spec(row_format)},
        data_spec=data_spec,
    )
    if row_format.task_type == "multiple_choice":
        return MultipleChoiceTask(name, load, **common)
    if row_format.task_type == "generate":
        return GenerateTask(name, load, **common, **dict(generate_options or {}))
    if row_format.task_type == "perplexity":
        return PerplexityTask(name, load, config=common["config"], data_spec=data_spec)
    raise ValueError(f"unknown task type {row_format.task_type!r}; use one of {TASK_TYPES}")


def _format_spec(row_format: RowFormat) -> dict[str, Any]:
    spec = asdict(row_format)
    if isinstance(spec["choices"], tuple):
        spec["choices"] = list(spec["choices"])
    return spec
