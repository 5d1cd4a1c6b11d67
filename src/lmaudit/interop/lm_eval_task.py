"""`--task lm-eval:FILE.yaml`: an lm-evaluation-harness task file as a lmaudit task.

Documents are read (local `data_files` or a hub dataset), rendered as lm-eval renders
them (`lmaudit.interop.lm_eval_render`: the whole context, few-shot examples included, is
the sample's prompt) and wrapped in the generic multiple-choice or generation task.
Sample ids are lm-eval's `doc_id`s (the document's position in the evaluation split), so
runs align with imported lm-eval logs. Metrics carry lm-eval's names and only those the
task's `metric_list` asks for (`lmaudit.interop.lm_eval_metrics`).
Generation scores each of the task's filter pipelines with `exact_match`.
`loglikelihood` scores `doc_to_target` (no delimiter, as lm-eval) after the context
(`lmaudit.interop.lm_eval_continuation`: acc and perplexity); `loglikelihood_rolling`
scores `doc_to_target` (as lm-eval does) with lmaudit's perplexity task: word_perplexity,
byte_perplexity and bits_per_byte as lm-eval defines them.

`lm-eval:DIR` (every task file below DIR), `lm-eval:GROUP.yaml` (a group file) and
`--task-option tasks=NAME,...` (tasks, groups or tags of DIR's index, as lm-eval's
`--tasks` with `--include_path DIR`) run several tasks as one suite with lm-eval's group
aggregates (`lmaudit.interop.lm_eval_groups`, `lmaudit.interop.lm_eval_suite`).

Task options: `fewshot` (n, overrides num_fewshot), `fewshot_seed` (default 1234, lm-eval's
default), `trust_task_code` (yes: run `!function` hooks), `tasks` (names to select in a
directory), `include_path` (where a group file's members are looked up; default its
folder), `limit` (the first n documents of each task, as lm-eval's `--limit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError, Sample
from lmaudit.data.loading import file_sha256, load_rows
from lmaudit.interop.lm_eval_filters import LmEvalScorer, exact_match_from, pipelines
from lmaudit.interop.lm_eval_metrics import LmEvalMetrics, select_metrics
from lmaudit.interop.lm_eval_render import DocRenderer, fewshot_examples
from lmaudit.interop.lm_eval_yaml import check_supported, read_task_yaml, resolve_hooks

PREFIX = "lm-eval:"
OPTIONS = ("fewshot", "fewshot_seed", "trust_task_code", "tasks", "include_path",
           "limit")
LOCAL_BUILDERS = ("json", "csv", "parquet", "text", "arrow")


def _data_file(config: Mapping[str, Any], split: str, file: Path) -> Path | None:
    """The local file of `split` (None for a hub dataset)."""
    if config.get("dataset_path") not in LOCAL_BUILDERS:
        return None
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if isinstance(files, str | list):
        files = {"train": files}
    if not isinstance(files, Mapping) or split not in files:
        raise LmauditError(f"{file}: dataset_kwargs.data_files names no file for split "
                           f"{split!r}")
    chosen = files[split]
    if isinstance(chosen, list):
        if len(chosen) != 1:
            raise LmauditError(f"{file}: split {split!r} of several files is not supported")
        chosen = chosen[0]
    path = Path(str(chosen)).expanduser()
    for candidate in (path, file.parent / path):
        if candidate.is_file():
            return candidate.resolve()
    raise LmauditError(f"{file}: data file {chosen} of split {split!r} does not exist")


def _docs(config: Mapping[str, Any], split: str, file: Path) -> list[dict[str, Any]]:
    """The split's documents, through the task's `process_docs` hook when it has one (the
    hook gets a `datasets.Dataset`, as in lm-eval)."""
    local = _data_file(config, split, file)
    if local is not None:
        rows = load_rows(str(local))
    else:
        rows = load_rows(str(config["dataset_path"]), split=split,
                         name=config.get("dataset_name"))
    process = config.get("process_docs")
    if process is None:
        return rows
    if not callable(process):
        raise LmauditError(f"{file}: process_docs must be a !function hook")
    import datasets

    processed = process(datasets.Dataset.from_list(rows))
    return [dict(row) for row in processed]


def _splits(config: Mapping[str, Any], file: Path) -> tuple[str, str | None]:
    """(evaluation split, few-shot split): test else validation; few-shot from
    fewshot_split, else training, validation, test (lm-eval's rule)."""
    evaluation = config.get("test_split") or config.get("validation_split")
    if not evaluation:
        raise LmauditError(f"{file}: neither test_split nor validation_split is set")
    pool = (config.get("fewshot_split") or config.get("training_split")
            or config.get("validation_split") or config.get("test_split"))
    return str(evaluation), None if pool is None else str(pool)


def _sample(renderer: DocRenderer, index: int, doc: Mapping[str, Any], context: str,
            multiple_choice: bool) -> Sample:
    target = renderer.target(doc)
    metadata = {"fields": dict(doc), "doc_id": index}
    if multiple_choice:
        choices = tuple(renderer.choices(doc))
        if isinstance(target, str) and target in choices:
            target = choices.index(target)
        if not isinstance(target, int) or not 0 <= target < len(choices):
            raise LmauditError(f"doc {index}: target {target!r} is not one of its "
                               f"{len(choices)} choices (several targets: not supported yet)")
        return Sample(str(index), context, target, choices=choices, metadata=metadata)
    if isinstance(target, int) and renderer.has_choices:
        target = renderer.choices(doc)[target]
    if isinstance(target, list):
        raise LmauditError(f"doc {index}: several targets are not supported yet")
    return Sample(str(index), context, str(target), metadata=metadata)


def _generation_options(config: Mapping[str, Any], file: Path) -> dict[str, Any]:
    kwargs = dict(config.get("generation_kwargs") or {})
    if kwargs.get("do_sample") or float(kwargs.get("temperature", 0.0) or 0.0) > 0:
        raise LmauditError(f"{file}: sampled generation (do_sample / temperature > 0) is "
                           "not supported yet; lmaudit decodes greedily")
    until = kwargs.get("until", [config.get("fewshot_delimiter", "\n\n")])
    return {"stop": [until] if isinstance(until, str) else list(until),
            "max_tokens": int(kwargs.get("max_gen_toks", 256))}


def _option_flag(options: Mapping[str, str], key: str) -> bool:
    return options.get(key, "no").lower() in ("1", "yes", "true")


def load_lm_eval_task(spec: str, options: Mapping[str, str] | None = None) -> Task:
    """The task of `lm-eval:FILE.yaml`, or the suite of `lm-eval:DIR` or of a group file
    (`lmaudit.interop.lm_eval_suite`); see the module docstring."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise LmauditError(f"lm-eval task: unknown option {unknown[0]!r}; valid options: "
                           f"{', '.join(OPTIONS)}")
    file = Path(spec.removeprefix(PREFIX)).expanduser()
    if file.is_dir() or "tasks" in options:
        from lmaudit.interop.lm_eval_suite import load_suite

        return load_suite(file, options)
    raw = read_task_yaml(file)
    if "group" in raw:
        from lmaudit.interop.lm_eval_suite import load_suite

        return load_suite(file, options, raw)
    return task_from_config(raw, file, options)


def task_from_config(raw: Mapping[str, Any], file: Path, options: Mapping[str, str]) -> Task:
    """One lm-eval task from its config (`file`: where it was read, for relative data
    files and messages); options as `load_lm_eval_task`'s."""
    from lmaudit.tasks.generic import MultipleChoiceTask, PerplexityTask

    check_supported(raw, file)
    config = dict(resolve_hooks(raw, _option_flag(options, "trust_task_code"), file))
    limit = int(options["limit"]) if "limit" in options else None
    if limit is not None and limit < 1:
        raise LmauditError(f"lm-eval task option limit must be positive, got {limit}")
    name = str(config["task"])
    n_shot = int(options.get("fewshot", config.get("num_fewshot") or 0))
    seed = int(options.get("fewshot_seed", 1234))
    evaluation, pool_split = _splits(config, file)
    output_type = config.get("output_type", "generate_until")
    multiple_choice = output_type == "multiple_choice"
    if output_type == "loglikelihood_rolling" and n_shot > 0:
        raise LmauditError(f"{file}: loglikelihood_rolling takes no few-shot examples")
    sampler = str((config.get("fewshot_config") or {}).get("sampler", "default"))

    def load() -> list[Sample]:
        docs = _docs(config, evaluation, file)
        features = sorted({k for d in docs for k in d})
        renderer = DocRenderer(config, features)
        pool: list[dict[str, Any]] = []
        if n_shot > 0 and pool_split is not None:
            pool = docs if pool_split == evaluation else _docs(config, pool_split, file)
        exclude = config.get("fewshot_split") == config.get("test_split")
        evaluated = docs[:limit]  # the few-shot draws go doc by doc: the first ones unchanged
        examples = fewshot_examples(evaluated, pool, n_shot, seed=seed, sampler=sampler,
                                    exclude_self=exclude)
        try:
            if output_type == "loglikelihood_rolling":
                return [Sample(str(i), str(renderer.target(doc)), "",
                               metadata={"fields": dict(doc), "doc_id": i})
                        for i, doc in enumerate(evaluated)]
            return [_sample(renderer, i, doc, renderer.context(doc, shots), multiple_choice)
                    for i, (doc, shots) in enumerate(zip(evaluated, examples, strict=True))]
        except LmauditError as error:
            raise LmauditError(f"{file}: {error}") from None

    def data_spec(load_data: bool) -> dict[str, Any]:
        local = _data_file(config, evaluation, file)
        info: dict[str, Any] = {"path": str(config.get("dataset_path")), "split": evaluation,
                                "name": config.get("dataset_name")}
        if local is not None:
            info["file"] = str(local)
            if load_data:
                info["sha256"] = file_sha256(local)
        return {"eval": info}

    spec_config = {"source": str(file.resolve()), "lm_eval_config":
                   json.loads(json.dumps(config, default=repr)),
                   "num_fewshot": n_shot, "fewshot_seed": seed,
                   **({"limit": limit} if limit is not None else {})}
    common: dict[str, Any] = {"target_delimiter": str(config.get("target_delimiter", " ")),
                              "config": spec_config, "data_spec": data_spec}
    task: Task
    if output_type == "loglikelihood_rolling":
        task = PerplexityTask(name, load, config=spec_config, data_spec=data_spec)
    elif output_type == "loglikelihood":
        from lmaudit.interop.lm_eval_continuation import ContinuationTask

        task = ContinuationTask(name, load, **common)
    elif multiple_choice:
        task = MultipleChoiceTask(name, load, **common)
    else:
        task = _generation_task(name, load, config, file, common)
    reported, rename = select_metrics(task.metrics, output_type, config.get("metric_list"),
                                      file)
    return LmEvalMetrics(task, reported, rename)


def _generation_task(name: str, load: Callable[[], list[Sample]], config: Mapping[str, Any],
                     file: Path, common: Mapping[str, Any]) -> Task:
    from lmaudit.interop.lm_eval_generate import LmEvalGenerateTask

    task = LmEvalGenerateTask(name, load, scorer="exact", **common,
                              **_generation_options(config, file))
    scorer = LmEvalScorer(pipelines(config.get("filter_list")),
                          exact_match_from(config.get("metric_list")))
    task.scorer = task.lm_eval_scorer = scorer
    return task
