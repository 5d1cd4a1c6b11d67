"""Instantiating templates: seeded rejection sampling, and the original instance.

`instantiate(template, k)` for k >= 1 draws every assignment in order from a generator
seeded with SHA-256 of (template id, k), so an instance depends on nothing else (not on
other instances, not on Python's hash seed). A single-target assignment whose value is a
list or range takes one element uniformly (`$x = range(2, 10)`); a multi-target one unpacks
(`a, b = sample(names, 2)`); a `(text, number)` pair becomes a `Worded` value. Draws that
fail a condition, or divide by zero, are rejected and the whole assignment list is drawn
again, up to `max_attempts` (20,000 by default); then `TemplateUnsatisfiable` names the
condition that failed most often. A condition `v == expr` is solved for `v` rather than
guessed when that is safe (`solvable_equalities`); the distribution stays that of rejection
sampling. Instance 0 is the original (`original_instance`).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import Any

from lmaudit.probes.templates.evaluator import (
    DivisionByZero,
    EvaluationError,
    Expression,
    Scope,
    TemplateError,
    Worded,
    unwrap,
)
from lmaudit.probes.templates.helpers import make_functions
from lmaudit.probes.templates.model import (
    Assignment,
    Instance,
    Slot,
    Template,
    capitalize_first,
    freeze,
)
from lmaudit.probes.templates.text import canonical_number, render_value

ORIGINAL = 0
DEFAULT_MAX_ATTEMPTS = 20_000
MAX_HIDDEN_COMBINATIONS = 200_000


class TemplateUnsatisfiable(TemplateError):
    """No draw satisfied the template's conditions within the attempt budget."""


def instance_rng(template_id: str, instance: int) -> random.Random:
    """The generator for one (template, instance): seeded by SHA-256, stable across runs."""
    digest = hashlib.sha256(f"{template_id}\x00{instance}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _bind(
    assignment: Assignment, value: Any, env: dict[str, Any], rng: random.Random, where: str
) -> None:
    targets = assignment.targets
    if len(targets) == 1:
        if isinstance(value, list | tuple | range) and not _is_worded_pair(value):
            if len(value) == 0:
                raise EvaluationError(f"{where}: {targets[0]} has an empty domain")
            value = value[rng.randrange(len(value))]
        env[targets[0]] = as_worded(value)
        return
    if not isinstance(value, list | tuple) or len(value) != len(targets):
        raise EvaluationError(
            f"{where}: cannot unpack {type(value).__name__} into {', '.join(targets)}"
        )
    env.update(zip(targets, (as_worded(v) for v in value), strict=True))


def _is_worded_pair(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | Fraction)
        and not isinstance(value[1], bool)
    )


def as_worded(value: Any) -> Any:
    """A `(text, number)` pair, as GSM-Symbolic writes worded choices, becomes `Worded`."""
    return Worded(value[0], value[1]) if _is_worded_pair(value) else value


def render_question(template: Template, variables: Mapping[str, Any]) -> str:
    """The question text with every slot replaced by its variable's rendered value."""
    pieces = []
    for part in template.question:
        if isinstance(part, Slot):
            if part.name not in variables:
                raise EvaluationError(f"{template.id}: slot {{{part.name}}} has no value")
            text = render_value(variables[part.name], template.decimals.get(part.name))
            pieces.append(capitalize_first(text) if part.capitalized else text)
        else:
            pieces.append(part)
    return "".join(pieces)


def _failed_condition(template: Template, scope: Scope) -> int | None:
    """Index of the first condition that does not hold (division by zero fails), else None."""
    for index, condition in enumerate(template.conditions):
        try:
            if not condition.evaluate(scope):
                return index
        except DivisionByZero:
            return index
    return None


def _public(template: Template, env: Mapping[str, Any]) -> dict[str, Any]:
    names = [*template.variables, *(n for n in template.slot_names if n in env)]
    return {name: env[name] for name in dict.fromkeys(names) if name in env}


def solvable_equalities(template: Template) -> dict[str, tuple[int, Expression]]:
    """Variables fixed by a condition `v == expr`, which the sampler solves instead of drawing.

    Eligible: `v` is assigned once, alone on its line, read by no assignment, and `expr`
    reads no other solved variable. Solving keeps the distribution of rejection sampling:
    the other variables are drawn as usual, `v = expr` is kept when it lies in v's domain
    (for a list with repeats, with probability count / highest count), else the draw is
    rejected. `{v: (condition index, expr)}`.
    """
    assigned: Counter[str] = Counter(t for a in template.assignments for t in a.targets)
    single = {a.targets[0] for a in template.assignments if len(a.targets) == 1}
    read = {n for a in template.assignments for n in a.expression.names}
    plan: dict[str, tuple[int, Expression]] = {}
    for index, condition in enumerate(template.conditions):
        if condition.equality is None:
            continue
        name, other = condition.equality
        if name in single and assigned[name] == 1 and name not in read and name not in plan:
            plan[name] = (index, other)
    for name, (_, other) in list(plan.items()):
        if other.names & (set(plan) - {name}):
            del plan[name]
    return plan


def _pick_solution(domain: Any, value: Any, rng: random.Random) -> tuple[bool, Any]:
    """(accepted, element) for a solved value against its variable's domain."""
    value = unwrap(value)
    if isinstance(domain, range):
        ok = isinstance(value, int) and not isinstance(value, bool) and value in domain
        return ok, value
    if not isinstance(domain, list | tuple) or _is_worded_pair(domain):
        element = as_worded(domain)
        return unwrap(element) == value, element
    elements = [as_worded(e) for e in domain]
    matches = [e for e in elements if unwrap(e) == value]
    if not matches:
        return False, None
    counts = Counter(repr(unwrap(e)) for e in elements)
    highest = max(counts.values())
    if len(matches) < highest and rng.random() >= len(matches) / highest:
        return False, None
    return True, matches[rng.randrange(len(matches))]


def _draw(
    template: Template,
    plan: Mapping[str, tuple[int, Expression]],
    rng: random.Random,
    functions: Mapping[str, Callable[..., Any]],
    domain_functions: Mapping[str, Callable[..., Any]],
) -> tuple[dict[str, Any] | None, int]:
    """One draw: (variables, -2) when all conditions hold, else (None, failed index)."""
    env: dict[str, Any] = dict(template.vocabularies)
    scope = Scope(env, functions)
    pending = []
    for assignment in template.assignments:
        if assignment.targets[0] in plan and len(assignment.targets) == 1:
            pending.append(assignment)
            continue
        _bind(assignment, assignment.expression.evaluate(scope), env, rng, template.id)
    for assignment in pending:
        name = assignment.targets[0]
        index, other = plan[name]
        domain = assignment.expression.evaluate(Scope(env, domain_functions))
        accepted, element = _pick_solution(domain, other.evaluate(scope), rng)
        if not accepted:
            return None, index
        env[name] = element
    failed = _failed_condition(template, scope)
    return (env, -2) if failed is None else (None, failed)


def instantiate(
    template: Template, instance: int, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Instance:
    """Instance `instance` of `template` (0: the original values; >= 1: a seeded draw)."""
    if instance == ORIGINAL:
        return original_instance(template)
    rng = instance_rng(template.id, instance)
    functions = make_functions(rng)
    domain_functions = _domain_functions(rng)
    plan = solvable_equalities(template)
    failures: Counter[int] = Counter()
    for _ in range(max_attempts):
        try:
            env, failed = _draw(template, plan, rng, functions, domain_functions)
            if env is None:
                failures[failed] += 1
                continue
            answer = template.answer.evaluate(Scope(env, functions))
        except DivisionByZero:
            failures[-1] += 1
            continue
        variables = _public(template, env)
        return Instance(
            template.id,
            instance,
            freeze(variables),
            render_question(template, variables),
            canonical_number(answer),
        )
    raise TemplateUnsatisfiable(_unsatisfiable_message(template, failures, max_attempts))


def _unsatisfiable_message(template: Template, failures: Counter[int], attempts: int) -> str:
    index, count = failures.most_common(1)[0] if failures else (-1, 0)
    culprit = "a division by zero" if index < 0 else repr(template.conditions[index].source)
    return (
        f"template {template.id}: no draw satisfied its conditions in {attempts} attempts; "
        f"most often failed: {culprit} ({count} times)"
    )


def _domain(assignment: Assignment, scope: Scope) -> list[Any]:
    """All values a single-target assignment can take (`sample(xs)` stands for all of xs)."""
    value = assignment.expression.evaluate(scope)
    if isinstance(value, list | tuple | range) and not _is_worded_pair(value):
        if len(value) > MAX_HIDDEN_COMBINATIONS:
            raise EvaluationError(f"domain of {assignment.targets[0]} too large to search")
        return [as_worded(v) for v in value]
    return [as_worded(value)]


def _widened(domain: list[Any]) -> list[Any]:
    """An integer domain extended down to 0 (originals often lie below a template's range)."""
    if domain and all(isinstance(v, int) and not isinstance(v, bool) for v in domain):
        return list(range(min(0, *domain), max(domain) + 1))
    return domain


def _domain_functions(rng: random.Random) -> dict[str, Callable[..., Any]]:
    functions = make_functions(rng)
    draw_one = functions["sample"]

    def whole_population(population: Any, k: Any = None) -> Any:
        return population if k is None else draw_one(population, k)

    return {**functions, "sample": whole_population}


def _resolve(value: Any, assignment: Assignment, scope: Scope) -> Any:
    """A `$` variable's original text found among its domain's worded values ("six-sided")."""
    if not (assignment.numeric and isinstance(value, str)):
        return value
    for candidate in _domain(assignment, scope):
        if isinstance(candidate, Worded) and candidate.text.lower() == value.lower():
            return candidate
    return value


def _solutions(
    template: Template, env: dict[str, Any], index: int, scope: Scope, state: list[int]
) -> Iterator[dict[str, Any]]:
    """Depth-first values for hidden variables (no original); state = [budget, widen]."""
    if index == len(template.assignments):
        yield env
        return
    assignment = template.assignments[index]
    targets = assignment.targets
    if all(t in template.originals for t in targets):
        for target in targets:
            env[target] = _resolve(template.originals[target], assignment, scope)
        yield from _solutions(template, env, index + 1, scope, state)
        return
    if len(targets) > 1:
        raise EvaluationError(f"{template.id}: {', '.join(targets)} have no original values")
    domain = _domain(assignment, scope)
    for value in _widened(domain) if state[1] else domain:
        state[0] -= 1
        if state[0] < 0:
            raise EvaluationError(f"{template.id}: too many hidden-variable combinations")
        env[targets[0]] = value
        yield from _solutions(template, env, index + 1, scope, state)


def _solve_originals(template: Template, scope: Scope) -> bool:
    """Fill `scope.variables` with the originals (resolved) and hidden values; True when the
    conditions hold. Hidden variables are searched in their domains, then in domains widened
    down to 0; if no values meet every condition, the first values failing the fewest are
    kept (and False returned)."""
    env = scope.variables
    assert isinstance(env, dict)
    hidden = [n for n in template.variables if n not in template.originals]
    best: tuple[int, dict[str, Any]] | None = None
    for widen in (0, 1) if hidden else (0,):
        state = [MAX_HIDDEN_COMBINATIONS, widen]
        for solution in _solutions(template, env, 0, scope, state):
            failed = len(failed_conditions(template, solution, scope.functions))
            if failed == 0:
                return True
            if best is None or failed < best[0]:
                best = (failed, {name: solution[name] for name in hidden})
    if best is None:
        raise TemplateError(f"{template.id}: hidden variables {', '.join(hidden)} have no values")
    env.update(best[1])
    return False


def original_instance(template: Template) -> Instance:
    """The instance with the template's original values (`instance` 0).

    Originals come from the annotated slots; a `$` variable's original text that is not a
    number is looked up among its domain's worded values. Variables without an original (no
    slot, e.g. a hidden `$ans`) get the first values meeting all conditions (see
    `_solve_originals`). `conditions_hold` says whether the originals meet the conditions.
    """
    env: dict[str, Any] = dict(template.vocabularies)
    env.update(template.originals)
    scope = Scope(env, _domain_functions(instance_rng(template.id, ORIGINAL)))
    holds = _solve_originals(template, scope)
    try:
        answer = template.answer.evaluate(scope)
    except DivisionByZero:
        raise TemplateError(f"{template.id}: the answer divides by zero on the originals") from None
    variables = _public(template, env)
    return Instance(
        template.id,
        ORIGINAL,
        freeze(variables),
        render_question(template, variables),
        canonical_number(answer),
        conditions_hold=holds,
    )


def answer_for(template: Template, variables: Mapping[str, Any]) -> str:
    """The canonical answer of `template` for given variable values (e.g. a variant's)."""
    env = {**template.vocabularies, **variables}
    scope = Scope(env, make_functions(instance_rng(template.id, ORIGINAL)))
    return canonical_number(template.answer.evaluate(scope))


def failed_conditions(
    template: Template,
    variables: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> list[str]:
    """Sources of the conditions that `variables` do not meet (division by zero fails)."""
    env = {**template.vocabularies, **variables}
    if functions is None:
        functions = make_functions(instance_rng(template.id, ORIGINAL))
    scope = Scope(env, functions)
    failed = []
    for condition in template.conditions:
        try:
            if not condition.evaluate(scope):
                failed.append(condition.source)
        except DivisionByZero:
            failed.append(condition.source)
    return failed
