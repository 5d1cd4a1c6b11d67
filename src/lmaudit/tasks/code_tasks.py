"""The registered code tasks: `humaneval` and `mbpp` (sanitized).

Options shared by both (`--task-option KEY=VALUE`): `samples` (completions per problem,
default 1), `temperature` (default 0, greedy, for one sample; 0.8 for several, the Codex
paper's pass@100 setting), `top_p` (0.95 when sampling, as the Codex paper), `max_tokens`,
`sandbox` (`process`, the default, or `container`), `engine` (podman or docker),
`image` (the container image), `timeout` (wall seconds per program, default 6),
`workers` (programs run at once, default the CPU count).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmaudit.core.task import Task
from lmaudit.core.types import LmauditError
from lmaudit.data.source import DataSource
from lmaudit.sandbox import SandboxLimits
from lmaudit.sandbox.container import DEFAULT_IMAGE
from lmaudit.tasks.code import CodeTask, make_executor
from lmaudit.tasks.code_data import (
    HUMANEVAL_STOP,
    MBPP_STOP,
    CodeProblem,
    humaneval_problems,
    mbpp_problems,
)
from lmaudit.tasks.registry import TaskOptions, register_task

_COMMON = {
    "samples": "completions per problem (default 1); pass@k for k = 1, 2, 4, ... up to it",
    "temperature": "sampling temperature (default 0 for one sample, 0.8 for several)",
    "top_p": "nucleus sampling (default 1 greedy, 0.95 sampled)",
    "max_tokens": "new tokens per completion",
    "sandbox": "process (default) or container (podman/docker)",
    "engine": "container engine: podman or docker (default: the first that answers)",
    "image": f"container image with python (default {DEFAULT_IMAGE})",
    "timeout": "wall-clock seconds per program (default 6)",
    "workers": "programs run at once (default: the CPU count)",
}


def _number(opts: TaskOptions, key: str, default: float) -> float:
    value = opts.text(key)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise LmauditError(f"task {opts.task}: option {key}={value!r} must be a number") from None
    if number < 0:
        raise LmauditError(f"task {opts.task}: option {key} must be >= 0")
    return number


def _code_task(
    name: str,
    opts: TaskOptions,
    load: Any,
    *,
    stop: tuple[str, ...],
    max_tokens: int,
    config: dict[str, Any],
) -> Task:
    n = opts.integer("samples", 1, minimum=1)
    temperature = _number(opts, "temperature", 0.0 if n == 1 else 0.8)
    top_p = _number(opts, "top_p", 1.0 if temperature == 0 else 0.95)
    timeout = _number(opts, "timeout", 6.0)
    if timeout <= 0:
        raise LmauditError(f"task {name}: option timeout must be > 0")
    limits = SandboxLimits(wall_s=timeout, cpu_s=max(1, int(timeout)))
    workers = opts.integer("workers", 0, minimum=1) if opts.text("workers") else None
    executor, sandbox_spec = make_executor(
        opts.choice("sandbox", "process", ("process", "container")),
        limits,
        workers,
        opts.text("engine"),
        opts.text("image", DEFAULT_IMAGE) or DEFAULT_IMAGE,
    )
    return CodeTask(
        name,
        load,
        executor=executor,
        stop=stop,
        max_tokens=opts.integer("max_tokens", max_tokens, minimum=1),
        n_samples=n,
        temperature=temperature,
        top_p=top_p,
        config={**config, "options": opts.spec(), "sandbox": sandbox_spec},
    )


@register_task(
    "humaneval",
    "HumanEval: 164 Python functions from docstrings, run against their tests; pass@k",
    task_type="generate",
)
def humaneval(**options: str) -> Task:
    """Prompt: the problem's signature and docstring; stop at the reference harness's
    sequences; program `prompt + completion + test + check(entry_point)`."""
    opts = TaskOptions(
        "humaneval",
        options,
        {"data": "local file of HumanEval rows (HumanEval.jsonl.gz works as it is); "
                 "default the hub dataset openai/openai_humaneval", **_COMMON},
    )  # fmt: skip
    data = opts.text("data")
    source = DataSource(data, "test") if data else DataSource("openai/openai_humaneval", "test")

    def load() -> list[CodeProblem]:
        return humaneval_problems(source.rows(), source.label())

    config = {"task_version": "humaneval-v1", "data": source.describe(hash_files=True)}
    return _code_task("humaneval", opts, load, stop=HUMANEVAL_STOP, max_tokens=1024, config=config)


@register_task(
    "mbpp",
    "MBPP sanitized: 427 crowd-sourced Python tasks (257 test), run against asserts; pass@k",
    task_type="generate",
)
def mbpp(**options: str) -> Task:
    """Austin et al.'s prompt (task text, its asserts, `[BEGIN]`), 3-shot from the
    `prompt` split by default, stop at `[DONE]`; program `completion + imports + asserts`."""
    opts = TaskOptions(
        "mbpp",
        options,
        {"data": "local file or directory of sanitized MBPP rows; default the hub dataset "
                 "google-research-datasets/mbpp (config sanitized)",
         "split": "evaluation split (default test)",
         "fewshot": "worked examples before each prompt (default 3; 0 without a pool)",
         "fewshot_data": "file of few-shot rows (default: the prompt split)", **_COMMON},
    )  # fmt: skip
    split = opts.text("split", "test") or "test"
    data = opts.text("data")
    hub = ("google-research-datasets/mbpp",)
    source = DataSource(data, split) if data else DataSource(*hub, split, "sanitized")
    fewshot_data = opts.text("fewshot_data")
    if fewshot_data:
        pool: DataSource | None = DataSource(fewshot_data, "prompt")
    elif data:
        pool = DataSource(data, "prompt") if Path(data).is_dir() else None
    else:
        pool = DataSource(*hub, "prompt", "sanitized")
    n_shots = opts.integer("fewshot", 3 if pool is not None else 0)
    if n_shots and pool is None:
        raise LmauditError("task mbpp: fewshot needs fewshot_data=FILE for a local data file")

    def load() -> list[CodeProblem]:
        shots = pool.rows()[:n_shots] if pool is not None and n_shots else []
        if len(shots) < n_shots:
            raise LmauditError(f"task mbpp: {pool.label() if pool else ''} has only "
                               f"{len(shots)} few-shot rows, {n_shots} asked")  # fmt: skip
        return mbpp_problems(source.rows(), source.label(), shots)

    config = {
        "task_version": "mbpp-sanitized-v1",
        "data": source.describe(hash_files=True),
        "fewshot": n_shots,
        "fewshot_data": pool.describe(hash_files=True) if pool is not None and n_shots else None,
    }
    return _code_task("mbpp", opts, load, stop=MBPP_STOP, max_tokens=512, config=config)
