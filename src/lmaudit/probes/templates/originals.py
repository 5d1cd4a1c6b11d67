"""The original instance of a template (instance 0): the item the template was made from.

Each slot of the question renders its OWN annotated original text ("{who,dad} ... {who,
father}" gives "dad" then "father"), so the original question reproduces the annotated
text exactly; a slot without an original renders its variable's value. A variable's value
is its first slot's original (see `model.collect_originals`).

Variables without an original (no slot, e.g. a hidden `$ans`, or `loc4` of a line
`loc1, loc2, loc3, loc4 = sample(places, 4)` whose first three have slots) get the first
values of their domains that meet every condition: single variables over their domain,
targets of a `sample(population, k)` line over the population items the line's other
targets do not take (sampling is without replacement). If nothing meets every condition
the search is repeated over integer domains widened down to 0, and failing that the values
failing the fewest conditions are kept (`Instance.conditions_hold` is then False). The
search is bounded by `MAX_HIDDEN_COMBINATIONS` and by the work budget of its scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lmaudit.probes.templates.evaluator import (
    Budget,
    DivisionByZero,
    EvaluationError,
    Scope,
    TemplateError,
    Worded,
)
from lmaudit.probes.templates.model import (
    Assignment,
    Instance,
    Slot,
    Template,
    capitalize_first,
    freeze,
)
from lmaudit.probes.templates.sampler import (
    ORIGINAL,
    as_worded,
    domain_functions,
    evaluate_in,
    failed_conditions,
    instance_rng,
    is_worded_pair,
    public_variables,
)
from lmaudit.probes.templates.text import canonical_number, render_value

MAX_HIDDEN_COMBINATIONS = 200_000


def render_original_question(template: Template, variables: dict[str, Any]) -> str:
    """The question with every slot's own original text (slots without one: the value)."""
    pieces = []
    for part in template.question:
        if not isinstance(part, Slot):
            pieces.append(part)
        elif part.original is not None:
            pieces.append(part.original)
        else:
            if part.name not in variables:
                raise EvaluationError(f"{template.id}: slot {{{part.name}}} has no value")
            text = render_value(variables[part.name], template.decimals.get(part.name))
            pieces.append(capitalize_first(text) if part.capitalized else text)
    return "".join(pieces)


def _domain(template: Template, assignment: Assignment, scope: Scope) -> list[Any]:
    """All values a single-target assignment can take (`sample(xs)` stands for all of xs)."""
    value = evaluate_in(template, assignment.expression, scope)
    if isinstance(value, list | tuple | range) and not is_worded_pair(value):
        if len(value) > MAX_HIDDEN_COMBINATIONS:
            raise EvaluationError(
                f"template {template.id}: domain of {assignment.targets[0]} too large to search"
            )
        return [as_worded(v) for v in value]
    return [as_worded(value)]


def _widened(domain: list[Any]) -> list[Any]:
    """An integer domain extended down to 0 (originals often lie below a template's range);
    unchanged when the widened domain would exceed MAX_HIDDEN_COMBINATIONS."""
    if domain and all(isinstance(v, int) and not isinstance(v, bool) for v in domain):
        low, high = min(0, *domain), max(domain)
        if high - low < MAX_HIDDEN_COMBINATIONS:
            return list(range(low, high + 1))
    return domain


def _resolve(template: Template, value: Any, assignment: Assignment, scope: Scope) -> Any:
    """A `$` variable's original text found among its domain's worded values ("six-sided")."""
    if not (assignment.numeric and isinstance(value, str)):
        return value
    for candidate in _domain(template, assignment, scope):
        if isinstance(candidate, Worded) and candidate.text.lower() == value.lower():
            return candidate
    return value


def _spend(template: Template, state: list[int]) -> None:
    state[0] -= 1
    if state[0] < 0:
        raise EvaluationError(f"template {template.id}: too many hidden-variable combinations")


def _fill(
    template: Template, targets: list[str], pool: list[Any], env: dict[str, Any], state: list[int]
) -> Iterator[None]:
    """Assign the `targets` distinct items of `pool` in turn (depth first)."""
    if not targets:
        yield
        return
    for item in pool:
        _spend(template, state)
        env[targets[0]] = item
        yield from _fill(template, targets[1:], [p for p in pool if p is not item], env, state)


def _partial_line(
    template: Template, assignment: Assignment, env: dict[str, Any], scope: Scope,
    state: list[int],
) -> Iterator[None]:
    """Values for a multi-target line whose targets have originals only in part."""
    known = [t for t in assignment.targets if t in template.originals]
    for target in known:
        env[target] = as_worded(template.originals[target])
    whole = {**scope.functions, "sample": lambda population, k=None: population}
    population = _domain(template, assignment, Scope(env, whole, scope.budget))
    if len(population) < len(assignment.targets):
        raise EvaluationError(
            f"template {template.id}: {', '.join(assignment.targets)} have no original values"
        )
    taken = {repr(env[t]) for t in known}
    pool = [item for item in population if repr(item) not in taken]
    missing = [t for t in assignment.targets if t not in template.originals]
    yield from _fill(template, missing, pool, env, state)


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
            env[target] = _resolve(template, template.originals[target], assignment, scope)
        yield from _solutions(template, env, index + 1, scope, state)
        return
    if len(targets) > 1:
        for _ in _partial_line(template, assignment, env, scope, state):
            yield from _solutions(template, env, index + 1, scope, state)
        return
    domain = _domain(template, assignment, scope)
    for value in _widened(domain) if state[1] else domain:
        _spend(template, state)
        env[targets[0]] = value
        yield from _solutions(template, env, index + 1, scope, state)


def _solve_originals(template: Template, scope: Scope) -> bool:
    """Fill `scope.variables` with the originals (resolved) and hidden values; True when the
    conditions hold (see the module docstring)."""
    env = scope.variables
    assert isinstance(env, dict)
    hidden = [n for n in template.variables if n not in template.originals]
    best: tuple[int, dict[str, Any]] | None = None
    for widen in (0, 1) if hidden else (0,):
        state = [MAX_HIDDEN_COMBINATIONS, widen]
        for solution in _solutions(template, env, 0, scope, state):
            failed = len(failed_conditions(template, solution, scope.functions, scope.budget))
            if failed == 0:
                return True
            if best is None or failed < best[0]:
                best = (failed, {name: solution[name] for name in hidden})
    if best is None:
        raise TemplateError(f"{template.id}: hidden variables {', '.join(hidden)} have no values")
    env.update(best[1])
    return False


def original_instance(template: Template) -> Instance:
    """The instance with the template's original values (`instance` 0; module docstring).

    `conditions_hold` says whether the originals meet the conditions. Raises TemplateError
    (naming the template) when the originals cannot be completed or the answer fails.
    """
    env: dict[str, Any] = dict(template.vocabularies)
    env.update(template.originals)
    scope = Scope(env, domain_functions(instance_rng(template.id, ORIGINAL)), Budget())
    holds = _solve_originals(template, scope)
    try:
        answer = evaluate_in(template, template.answer, scope)
    except DivisionByZero:
        raise TemplateError(f"{template.id}: the answer divides by zero on the originals") from None
    variables = public_variables(template, env)
    return Instance(
        template.id,
        ORIGINAL,
        freeze(variables),
        render_original_question(template, variables),
        canonical_number(answer),
        conditions_hold=holds,
    )
