"""Instantiating templates: seeded rejection sampling, and the original instance.

`instantiate(template, k)` for k >= 1 draws every assignment in order from a generator
seeded with SHA-256 of (template id, k), so an instance depends on nothing else (not on
other instances, not on Python's hash seed). A single-target assignment whose value is a
list or range takes one element uniformly (`$x = range(2, 10)`); a multi-target one unpacks
(`a, b = sample(names, 2)`); a `(text, number)` pair becomes a `Worded` value. Draws that
fail a condition, or divide by zero, are rejected and the whole assignment list is drawn
again, up to `max_attempts` (20,000 by default); then `TemplateUnsatisfiable` names the
condition that failed most often. A condition `v == expr`, or any equality affine in one
variable (`k * 7 == d1 + d2`), is solved for that variable rather than guessed when that is
safe (`solvable_equalities`, `solving.equation_plan`); the distribution stays that of
rejection sampling. All draws of one instance share a work `Budget`, so a template that is
slow to evaluate stops with an error instead of running for hours. Instance 0 is the
original (`originals.original_instance`).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from lmaudit.probes.templates.evaluator import (
    Budget,
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
from lmaudit.probes.templates.solving import Equation, equation_plan
from lmaudit.probes.templates.text import canonical_number, render_value

ORIGINAL = 0
DEFAULT_MAX_ATTEMPTS = 20_000
REJECTION_ATTEMPTS = 2_000  # draws before the backtracking search (see `instantiate`)
REJECTION_UNITS = 2_000_000  # ... or work units, whichever comes first


class TemplateUnsatisfiable(TemplateError):
    """No draw satisfied the template's conditions within the attempt budget."""


def instance_rng(template_id: str, instance: int) -> random.Random:
    """The generator for one (template, instance): seeded by SHA-256, stable across runs."""
    digest = hashlib.sha256(f"{template_id}\x00{instance}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def bind(
    assignment: Assignment, value: Any, env: dict[str, Any], rng: random.Random, where: str
) -> None:
    targets = assignment.targets
    if len(targets) == 1:
        if isinstance(value, list | tuple | range) and not is_worded_pair(value):
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


def is_worded_pair(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | Fraction)
        and not isinstance(value[1], bool)
    )


def as_worded(value: Any) -> Any:
    """A `(text, number)` pair, as GSM-Symbolic writes worded choices, becomes `Worded`."""
    return Worded(value[0], value[1]) if is_worded_pair(value) else value


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
            if not evaluate_in(template, condition, scope):
                return index
        except DivisionByZero:
            return index
    return None


def public_variables(template: Template, env: Mapping[str, Any]) -> dict[str, Any]:
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


def pick_solution(domain: Any, value: Any, rng: random.Random) -> tuple[bool, Any]:
    """(accepted, element) for a solved value against its variable's domain."""
    value = unwrap(value)
    if isinstance(domain, range):
        ok = isinstance(value, int) and not isinstance(value, bool) and value in domain
        return ok, value
    if not isinstance(domain, list | tuple) or is_worded_pair(domain):
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
    plan: Mapping[str, Equation],
    rng: random.Random,
    scope: Scope,
    domain_scope: Scope,
    constants: dict[int, Any] | None = None,
) -> tuple[dict[str, Any] | None, int]:
    """One draw into `scope.variables` (which starts as the vocabularies): (variables, -2)
    when all conditions hold, else (None, failed condition index)."""
    env = scope.variables
    assert isinstance(env, dict)
    env.clear()
    env.update(template.vocabularies)
    pending = []
    for position, assignment in enumerate(template.assignments):
        if assignment.targets[0] in plan and len(assignment.targets) == 1:
            pending.append(assignment)
            continue
        if constants is not None and position in constants:
            value = constants[position]
        else:
            value = evaluate_in(template, assignment.expression, scope)
            if constants is not None and _is_constant(template, assignment):
                constants[position] = value
        bind(assignment, value, env, rng, template.id)
    for assignment in pending:
        equation = plan[assignment.targets[0]]
        domain = evaluate_in(template, assignment.expression, domain_scope)
        solved = equation.solve(scope)
        if solved is None:  # a degenerate linear equation: draw as usual
            bind(assignment, domain, env, rng, template.id)
            continue
        accepted, element = pick_solution(domain, solved, rng)
        if not accepted:
            return None, equation.index
        env[equation.name] = element
    failed = _failed_condition(template, scope)
    return (env, -2) if failed is None else (None, failed)


RANDOM_CALLS = frozenset({"sample", "sample_sequential", "shuffle_list", "np.random.randint"})


def _is_constant(template: Template, assignment: Assignment) -> bool:
    """True when the assignment's expression gives the same value in every draw (it reads
    only vocabularies and calls no random helper), so one evaluation serves all draws."""
    expression = assignment.expression
    return not expression.calls & RANDOM_CALLS and expression.names <= set(template.vocabularies)


def instantiate(
    template: Template, instance: int, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Instance:
    """Instance `instance` of `template` (0: the original values; >= 1: a seeded draw).

    Rejection sampling for `REJECTION_ATTEMPTS` draws or `REJECTION_UNITS` work units
    (both deterministic), whichever comes first; then (when `max_attempts` allows more)
    one seeded backtracking search (`search`), then rejection sampling again up to
    `max_attempts`. All draws of one instance share one work `Budget`, the search has its
    own; every failure other than an unsatisfiable template is an EvaluationError naming
    the template and the expression.
    """
    if instance == ORIGINAL:
        from lmaudit.probes.templates.originals import original_instance

        return original_instance(template)
    rng = instance_rng(template.id, instance)
    functions = make_functions(rng)
    env: dict[str, Any] = {}
    budget = Budget()
    scope = Scope(env, functions, budget)
    domain_scope = Scope(env, domain_functions(rng), budget)
    plan = equation_plan(template, solvable_equalities(template), functions)
    failures: Counter[int] = Counter()
    constants: dict[int, Any] = {}
    searched = False
    for attempt in range(max_attempts):
        if not searched and (
            attempt == REJECTION_ATTEMPTS or budget.spent > REJECTION_UNITS
        ):
            searched = True
            found = _search(template, plan, rng, functions)
            if found is not None:
                return _instance(template, instance, *found)
        try:
            drawn, failed = _draw(template, plan, rng, scope, domain_scope, constants)
            if drawn is None:
                failures[failed] += 1
                continue
            answer = evaluate_in(template, template.answer, scope)
        except DivisionByZero:
            failures[-1] += 1
            continue
        return _instance(template, instance, drawn, answer)
    raise TemplateUnsatisfiable(_unsatisfiable_message(template, failures, max_attempts))


def _search(
    template: Template,
    plan: Mapping[str, Equation],
    rng: random.Random,
    functions: Mapping[str, Callable[..., Any]],
) -> tuple[dict[str, Any], Any] | None:
    """The backtracking search under its own budget; None when it finds nothing."""
    from lmaudit.probes.templates.search import search_values

    env: dict[str, Any] = {}
    budget = Budget()
    scope = Scope(env, functions, budget)
    try:
        return search_values(template, plan, rng, scope, Scope(env, domain_functions(rng), budget))
    except EvaluationError:
        if budget.spent > budget.limit:
            return None
        raise


def _instance(
    template: Template, instance: int, values: Mapping[str, Any], answer: Any
) -> Instance:
    variables = public_variables(template, values)
    return Instance(
        template.id,
        instance,
        freeze(variables),
        render_question(template, variables),
        canonical_number(answer),
    )


def _unsatisfiable_message(template: Template, failures: Counter[int], attempts: int) -> str:
    index, count = failures.most_common(1)[0] if failures else (-1, 0)
    culprit = "a division by zero" if index < 0 else repr(template.conditions[index].source)
    return (
        f"template {template.id}: no draw satisfied its conditions in {attempts} attempts; "
        f"most often failed: {culprit} ({count} times)"
    )


def domain_functions(rng: random.Random) -> dict[str, Callable[..., Any]]:
    """Helpers for evaluating a domain: `sample(xs)` gives all of xs (the caller picks)."""
    functions = make_functions(rng)
    draw_one = functions["sample"]

    def whole_population(population: Any, k: Any = None) -> Any:
        return population if k is None else draw_one(population, k)

    return {**functions, "sample": whole_population}


def evaluate_in(template: Template, expression: Expression, scope: Scope) -> Any:
    """`expression` in `scope`; a failure other than a division by zero is re-raised as one
    line naming the template and the expression."""
    try:
        return expression.evaluate(scope)
    except (DivisionByZero, TemplateUnsatisfiable):
        raise
    except TemplateError as error:
        raise EvaluationError(
            f"template {template.id}: expression {expression.source!r}: {error}"
        ) from None


def answer_for(template: Template, variables: Mapping[str, Any]) -> str:
    """The canonical answer of `template` for given variable values (e.g. a variant's)."""
    env = {**template.vocabularies, **variables}
    scope = Scope(env, make_functions(instance_rng(template.id, ORIGINAL)))
    return canonical_number(evaluate_in(template, template.answer, scope))


def failed_conditions(
    template: Template,
    variables: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
    budget: Budget | None = None,
) -> list[str]:
    """Sources of the conditions that `variables` do not meet (division by zero fails)."""
    env = {**template.vocabularies, **variables}
    if functions is None:
        functions = make_functions(instance_rng(template.id, ORIGINAL))
    scope = Scope(env, functions, budget or Budget())
    failed = []
    for condition in template.conditions:
        try:
            if not evaluate_in(template, condition, scope):
                failed.append(condition.source)
        except DivisionByZero:
            failed.append(condition.source)
    return failed
