"""Tasks defined in YAML files.

    name: my_quiz
    type: multiple_choice          # multiple_choice | generate | perplexity
    dataset: {path: quiz.jsonl, split: test}   # path: file, directory or hub id; name: config
    prompt: "Question: {question}\\nAnswer:"
    choices: options               # a field holding the options, or a list of templates
    target: answer                 # a field (index, label, or option text), or a template
    fewshot: {n: 3, split: train, seed: 0}

Keys for every type: name, type, dataset, about (one line for `lmaudit tasks`), id (field
of unique sample ids; default the row number), cluster (field grouping samples for
clustered intervals). Multiple choice and
generate: prompt, target, description, fewshot {n, split, seed, sampler, group_by},
target_delimiter (default " "), fewshot_delimiter (default "\\n\\n"); multiple choice:
choices, target_kind (auto | index | label | text); generate: scorer (default numeric),
stop, max_tokens (default 256), attempts (default 1). Perplexity: text (field or template).

A relative `dataset.path` resolves against the YAML file's directory. The task spec holds
the normalized config, its sha256, and for local data the data file's sha256. Options from
the command line: data (replaces dataset.path, relative to the working directory), split,
fewshot (n), fewshot_seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError
from lmaudit.data.loading import looks_like_local_path
from lmaudit.data.source import DataSource
from lmaudit.data.textio import read_text
from lmaudit.tasks.fewshot import SAMPLERS, FewshotConfig
from lmaudit.tasks.prompting import TARGET_KINDS, template_fields
from lmaudit.tasks.rows import TASK_TYPES, RowFormat, build_task

COMMON_KEYS = ("name", "type", "about", "dataset", "id", "cluster")
PROMPT_KEYS = (
    "prompt", "target", "description", "fewshot", "target_delimiter", "fewshot_delimiter",
)
KEYS_BY_TYPE = {
    "multiple_choice": (*COMMON_KEYS, *PROMPT_KEYS, "choices", "target_kind"),
    "generate": (*COMMON_KEYS, *PROMPT_KEYS, "scorer", "stop", "max_tokens", "attempts"),
    "perplexity": (*COMMON_KEYS, "text"),
}
REQUIRED_BY_TYPE = {
    "multiple_choice": ("prompt", "choices", "target"),
    "generate": ("prompt", "target"),
    "perplexity": ("text",),
}
DATASET_KEYS = ("path", "split", "name")
FEWSHOT_KEYS = ("n", "split", "seed", "sampler", "group_by")
OPTION_KEYS = ("data", "split", "fewshot", "fewshot_seed")


class _Checker:
    """Typed access to a YAML mapping; every error names the file and the key."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> LmauditError:
        return LmauditError(f"{self.file}: key '{key}': {message}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {_kind(value)}")
        for sub in value:
            if sub not in allowed:
                raise self.fail(
                    f"{key}.{sub}", f"unknown key; valid keys: {', '.join(allowed)}"
                )
        return value

    def string(self, value: Any, key: str, *, template: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_kind(value)}")
        if template:
            try:
                template_fields(value)
            except ValueError as error:
                raise self.fail(key, f"malformed template ({error})") from None
        return value

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {_kind(value)}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def choice(self, value: Any, key: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return str(value)


def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"[:60]


class _UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that rejects a mapping naming the same key twice (PyYAML would
    silently keep the last value). Keys merged in with `<<: *anchor` may be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(file: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file; LmauditError with the line of a syntax error
    or of a duplicate key. The file must be UTF-8 (a byte-order mark is allowed)."""
    text = read_text(file)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise LmauditError(f"{file}: {_yaml_problem(error)}") from None
    except RecursionError:
        raise LmauditError(f"{file}: YAML nested too deeply to read") from None
    if not isinstance(data, dict):
        raise LmauditError(f"{file}: expected a mapping of task keys, got {_kind(data)}")
    return data


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`line N: malformed YAML (...)`, N where the faulty construct starts."""
    problem_mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    mark = context_mark or problem_mark
    if mark is None:
        return f"malformed YAML ({problem})"
    detail = problem
    if context and problem_mark is not None:
        detail = f"{context}: {problem} at line {problem_mark.line + 1}"
    return f"line {mark.line + 1}: malformed YAML ({detail})"


def normalize_config(raw: Mapping[str, Any], file: Path) -> dict[str, Any]:
    """Validated config with defaults filled in (no file access besides none)."""
    check = _Checker(file)
    if "type" not in raw:
        raise check.fail("type", f"is required; one of {', '.join(TASK_TYPES)}")
    task_type = check.choice(raw["type"], "type", TASK_TYPES)
    allowed = KEYS_BY_TYPE[task_type]
    for key in raw:
        if key not in allowed:
            raise check.fail(
                str(key), f"unknown key for type {task_type}; valid keys: {', '.join(allowed)}"
            )
    for key in ("name", "dataset", *REQUIRED_BY_TYPE[task_type]):
        if key not in raw:
            raise check.fail(key, "is required")
    config: dict[str, Any] = {"name": check.string(raw["name"], "name"), "type": task_type}
    dataset = check.mapping(raw["dataset"], "dataset", DATASET_KEYS)
    if "path" not in dataset:
        raise check.fail("dataset.path", "is required")
    config["dataset"] = {
        "path": check.string(dataset["path"], "dataset.path"),
        "split": _optional_string(check, dataset.get("split"), "dataset.split"),
        "name": _optional_string(check, dataset.get("name"), "dataset.name"),
    }
    for key in ("about", "id", "cluster"):
        config[key] = _optional_string(check, raw.get(key), key)
    if task_type == "perplexity":
        config["text"] = check.string(raw["text"], "text", template=True)
        return config
    config["prompt"] = check.string(raw["prompt"], "prompt", template=True)
    config["target"] = check.string(raw["target"], "target", template=True)
    config["description"] = check.string(raw.get("description", ""), "description", template=True)
    for key, default in (("target_delimiter", " "), ("fewshot_delimiter", "\n\n")):
        config[key] = check.string(raw.get(key, default), key)
    config["fewshot"] = _fewshot(check, raw.get("fewshot"))
    if task_type == "multiple_choice":
        config["choices"] = _choices(check, raw["choices"])
        config["target_kind"] = check.choice(
            raw.get("target_kind", "auto"), "target_kind", TARGET_KINDS
        )
    else:
        config.update(_generate_keys(check, raw))
    return config


def _optional_string(check: _Checker, value: Any, key: str) -> str | None:
    return None if value is None else check.string(value, key)


def _choices(check: _Checker, value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or len(value) < 2:
        raise check.fail("choices", f"must be a field name or a list of >= 2 templates, got "
                         f"{_kind(value)}")
    return [check.string(v, f"choices[{i}]", template=True) for i, v in enumerate(value)]


def _fewshot(check: _Checker, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    block = check.mapping(value, "fewshot", FEWSHOT_KEYS)
    if "n" not in block:
        raise check.fail("fewshot.n", "is required")
    return {
        "n": check.integer(block["n"], "fewshot.n", minimum=0),
        "split": _optional_string(check, block.get("split"), "fewshot.split"),
        "seed": check.integer(block.get("seed", 0), "fewshot.seed", minimum=0),
        "sampler": check.choice(block.get("sampler", "random"), "fewshot.sampler", SAMPLERS),
        "group_by": _optional_string(check, block.get("group_by"), "fewshot.group_by"),
    }


def _generate_keys(check: _Checker, raw: Mapping[str, Any]) -> dict[str, Any]:
    from lmaudit.scoring import scorer_names

    scorer = check.string(raw.get("scorer", "numeric"), "scorer")
    known = scorer_names()
    if scorer not in known:
        raise check.fail("scorer", f"unknown scorer {scorer!r}; known: {', '.join(known)}")
    stop = raw.get("stop", [])
    if isinstance(stop, str) or not isinstance(stop, list):
        raise check.fail("stop", f"must be a list of strings, got {_kind(stop)}")
    return {
        "scorer": scorer,
        "stop": [check.string(s, f"stop[{i}]") for i, s in enumerate(stop)],
        "max_tokens": check.integer(raw.get("max_tokens", 256), "max_tokens", minimum=1),
        "attempts": check.integer(raw.get("attempts", 1), "attempts", minimum=1),
    }


def config_sha256(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _apply_options(config: dict[str, Any], options: Mapping[str, str], file: Path) -> None:
    for key, value in options.items():
        if key not in OPTION_KEYS:
            raise LmauditError(
                f"{file}: unknown task option {key!r}; valid options: {', '.join(OPTION_KEYS)}"
            )
        if key == "data":
            config["dataset"]["path"] = value
        elif key == "split":
            config["dataset"]["split"] = value
        elif config["type"] == "perplexity":
            raise LmauditError(f"{file}: option {key!r} does not apply to perplexity tasks")
        else:
            if not value.isdigit():
                raise LmauditError(f"{file}: option {key}={value!r} must be an integer >= 0")
            block = config["fewshot"] or {
                "n": 0, "split": None, "seed": 0, "sampler": "random", "group_by": None,
            }
            block["n" if key == "fewshot" else "seed"] = int(value)
            config["fewshot"] = block


def _resolve_path(path: str, base: Path) -> str:
    candidate = (base / Path(path).expanduser()).resolve()
    if candidate.exists() or looks_like_local_path(path):
        return str(candidate)
    return path  # a hub id


def load_yaml_task(file: str | Path, options: Mapping[str, str] | None = None) -> Task:
    """The task a YAML file defines, with command-line `options` applied."""
    path = Path(file)
    if not path.is_file():
        raise LmauditError(f"{path}: no such task file")
    config = normalize_config(read_yaml(path), path)
    _apply_options(config, options or {}, path)
    dataset = config["dataset"]
    base = Path.cwd() if "data" in (options or {}) else path.resolve().parent
    data_path = _resolve_path(dataset["path"], base)
    source = DataSource(data_path, dataset["split"], dataset["name"])
    task_type = config["type"]
    choices = config.get("choices")
    row_format = RowFormat(
        task_type=task_type,
        prompt=config.get("prompt", ""),
        target=config.get("target"),
        choices=tuple(choices) if isinstance(choices, list) else choices,
        target_kind=config.get("target_kind", "auto"),
        text=config.get("text"),
        id_field=config["id"],
        cluster_field=config["cluster"],
        description=config.get("description", ""),
    )
    fewshot = fewshot_source = None
    if config.get("fewshot"):
        block = config["fewshot"]
        fewshot = FewshotConfig(
            n=block["n"], split=block["split"] or dataset["split"], seed=block["seed"],
            sampler=block["sampler"], group_by=block["group_by"],
        )
        if block["split"] is not None:
            fewshot_source = DataSource(data_path, block["split"], dataset["name"])
    generate_options = None
    if task_type == "generate":
        generate_options = {
            k: config[k] for k in ("scorer", "max_tokens", "stop", "attempts")
        }
    spec_config = {
        "source": str(path.resolve()),
        "config": config,
        "config_sha256": config_sha256(config),
    }
    return build_task(
        config["name"],
        row_format,
        source,
        origin=str(path),
        fewshot=fewshot,
        fewshot_source=fewshot_source,
        target_delimiter=config.get("target_delimiter", " "),
        fewshot_delimiter=config.get("fewshot_delimiter", "\n\n"),
        config=spec_config,
        generate_options=generate_options,
    )
