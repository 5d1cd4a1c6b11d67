"""lm-evaluation-harness task YAML files: reading (with `include`) and the supported keys.

Supported: `task`, `dataset_path`, `dataset_name`, `dataset_kwargs` (`data_files` for
local data), `test_split` / `validation_split` / `training_split` / `fewshot_split`,
`doc_to_text` / `doc_to_target` / `doc_to_choice` (Jinja templates, field names, ints or
lists), `description`, `target_delimiter`, `fewshot_delimiter`, `num_fewshot`,
`fewshot_config.sampler` (default, first_n), `output_type` (multiple_choice,
generate_until, loglikelihood, loglikelihood_rolling), `generation_kwargs`, `filter_list`
(every 0.4.13 filter: `lmaudit.interop.lm_eval_filter_steps`), `metric_list`
(`lmaudit.interop.lm_eval_metrics`), `include`, `process_docs` (a `!function` hook: trusted
code only). Group files and tags: `lmaudit.interop.lm_eval_groups`. Keys lm-eval only uses
for bookkeeping (`metadata`, `dataset_kwargs` other than data_files, ...) are kept in the
config but change nothing here.

`!function module.name` hooks are Python code from the task's folder: they are loaded only
when the caller trusts the task's code; otherwise reading the file is one error naming the
hook (and its key).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lmaudit.core.types import LmauditError

OUTPUT_TYPES = ("multiple_choice", "generate_until", "loglikelihood", "loglikelihood_rolling")
UNSUPPORTED = ("process_results", "doc_to_decontamination_query",
               "use_prompt", "doc_to_image", "doc_to_audio")


@dataclass(frozen=True)
class FunctionHook:
    """A `!function module.name` value: Python code named by a task file."""

    reference: str
    folder: Path

    def load(self) -> Callable[..., Any]:
        """Import `module.py` from the task's folder and return `name` (trusted code only)."""
        module_name, _, attribute = self.reference.rpartition(".")
        path = self.folder / f"{module_name.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(f"lm_eval_hook_{module_name}", path)
        if spec is None or spec.loader is None or not path.is_file():
            raise LmauditError(f"!function {self.reference}: no module file {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        hook: Callable[..., Any] = getattr(module, attribute)
        return hook


def _loader_for(folder: Path) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def function(loader: yaml.SafeLoader, node: yaml.Node) -> FunctionHook:
        return FunctionHook(str(loader.construct_scalar(node)), folder)  # type: ignore[arg-type]

    Loader.add_constructor("!function", function)
    return Loader


def _read_one(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise LmauditError(f"{path} is a directory, not an lm-eval task file")
    try:
        value = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader_for(path.parent))
    except FileNotFoundError:
        raise LmauditError(f"{path}: no such lm-eval task file") from None
    except yaml.YAMLError as error:
        raise LmauditError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(value, dict):
        raise LmauditError(f"{path}: an lm-eval task file is a YAML mapping")
    return value


def read_task_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping with its `include` chain merged in (the including file's keys
    win, as in lm-eval); an include cycle is an error."""
    path = path.resolve()
    if path in _seen:
        raise LmauditError(f"{path}: include cycle ({' -> '.join(str(p) for p in _seen)})")
    config = _read_one(path)
    include = config.pop("include", None)
    if include is None:
        return config
    base_path = Path(str(include))
    base_path = base_path if base_path.is_absolute() else path.parent / base_path
    return {**read_task_yaml(base_path, (*_seen, path)), **config}


def hooks_in(value: Any, key: str = "") -> list[tuple[str, FunctionHook]]:
    """Every `!function` hook in a config, with the key that holds it."""
    if isinstance(value, FunctionHook):
        return [(key, value)]
    if isinstance(value, Mapping):
        return [h for k, v in value.items() for h in hooks_in(v, f"{key}.{k}" if key else k)]
    if isinstance(value, list):
        return [h for i, v in enumerate(value) for h in hooks_in(v, f"{key}[{i}]")]
    return []


def resolve_hooks(value: Any, trust_code: bool, file: Path) -> Any:
    """The config with each hook replaced by its function; without `trust_code` the first
    hook is an error naming it."""
    hooks = hooks_in(value)
    if hooks and not trust_code:
        key, hook = hooks[0]
        raise LmauditError(
            f"{file}: {key} is `!function {hook.reference}`, Python code from the task's "
            "folder; it runs only with --trust-task-code (or --task-option "
            "trust_task_code=yes)")
    if isinstance(value, FunctionHook):
        return value.load()
    if isinstance(value, Mapping):
        return {k: resolve_hooks(v, trust_code, file) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_hooks(v, trust_code, file) for v in value]
    return value


def check_supported(config: Mapping[str, Any], file: Path) -> None:
    """One error for a group config (groups go through `lm_eval_groups`), an unsupported
    output type or an unsupported key."""
    if "group" in config or isinstance(config.get("task"), list):
        raise LmauditError(f"{file}: a group, not a task (run the group file itself)")
    if "task" not in config:
        raise LmauditError(f"{file}: no `task` key (not an lm-eval task file)")
    output_type = config.get("output_type", "generate_until")
    if output_type not in OUTPUT_TYPES:
        raise LmauditError(f"{file}: output_type {output_type!r} is not supported yet "
                           f"(supported: {', '.join(OUTPUT_TYPES)})")
    for key in UNSUPPORTED:
        if config.get(key) is not None:
            raise LmauditError(f"{file}: key {key!r} is not supported yet")
    if config.get("fewshot_config", {}).get("sampler", "default") not in ("default", "first_n"):
        raise LmauditError(f"{file}: fewshot_config.sampler must be default or first_n")


def load_task_config(path: Path, *, trust_code: bool = False) -> dict[str, Any]:
    """The checked config of an lm-eval task file (includes merged, hooks resolved)."""
    raw = read_task_yaml(path)
    check_supported(raw, path)
    return dict(resolve_hooks(raw, trust_code, path))
