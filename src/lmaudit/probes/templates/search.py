"""A seeded backtracking search for a template's values, when rejection sampling fails.

Some published templates accept about one draw in 10^5 (several `is_int`/`divides`
conditions over wide ranges): rejection sampling gives up, although their originals meet
every condition. The search assigns the variables in `#init` order (solved variables last,
see `solving`), and checks each condition as soon as every variable it reads has a value,
so a failing partial assignment is abandoned at once instead of being completed and
redrawn. A pass that visits more than `RESTART_NODES` partial assignments starts again
with fresh random orders (and twice the limit), so one unlucky early value does not trap
the search in a subtree without solutions. A single variable tries its domain's values in
a random order (the instance's generator): all of them for a domain of at most
`MAX_ENUMERATED` values, else that many random picks; a multi-target line
(`a, b = sample(names, 2)`) tries `LINE_REDRAWS` draws; a solved variable takes its
solution. The first complete assignment is the instance; a search that finds none within
the work budget reports none.

Distribution: each value is tried in a uniformly random order, so every satisfying
assignment can come out, but not with exactly the probabilities of rejection sampling (a
value with few completions is as likely to be tried first as one with many). This is the
price of an instance at all; `instantiate` only searches after rejection sampling failed
for `REJECTION_ATTEMPTS` draws (or `REJECTION_UNITS` of work), so templates that
rejection sampling handles keep its distribution.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lmaudit.probes.templates.evaluator import DivisionByZero, Expression, Scope
from lmaudit.probes.templates.model import Assignment, Template
from lmaudit.probes.templates.sampler import (
    as_worded,
    bind,
    evaluate_in,
    is_worded_pair,
    pick_solution,
)
from lmaudit.probes.templates.solving import Equation

MAX_ENUMERATED = 5_000
LINE_REDRAWS = 8
RESTART_NODES = 500


def _ready_conditions(
    template: Template, order: Sequence[Assignment]
) -> list[list[Expression]]:
    """For each step of `order`, the conditions whose names are all bound after it."""
    bound = set(template.vocabularies)
    done: set[int] = set()
    ready: list[list[Expression]] = []
    for assignment in order:
        bound.update(assignment.targets)
        now = [
            i for i, c in enumerate(template.conditions) if i not in done and c.names <= bound
        ]
        done.update(now)
        ready.append([template.conditions[i] for i in now])
    if ready:  # a condition reading an unknown name fails (with its error) at the end
        ready[-1].extend(c for i, c in enumerate(template.conditions) if i not in done)
    return ready


class _Search:
    def __init__(
        self,
        template: Template,
        plan: Mapping[str, Equation],
        rng: random.Random,
        scope: Scope,
        domain_scope: Scope,
    ) -> None:
        self.template, self.plan, self.rng = template, plan, rng
        self.scope, self.domain_scope = scope, domain_scope
        pending = [a for a in template.assignments if len(a.targets) == 1 and a.targets[0] in plan]
        self.order = [a for a in template.assignments if a not in pending] + pending
        self.ready = _ready_conditions(template, self.order)
        env = scope.variables
        assert isinstance(env, dict)
        self.env = env
        self.answer: Any = None
        self.nodes = 0
        self.restart_after = RESTART_NODES

    def _holds(self, conditions: Sequence[Expression]) -> bool:
        for condition in conditions:
            try:
                if not evaluate_in(self.template, condition, self.scope):
                    return False
            except DivisionByZero:
                return False
        return True

    def _indices(self, size: int) -> Iterator[int]:
        if size <= MAX_ENUMERATED:
            yield from self.rng.sample(range(size), size)
        else:
            for _ in range(MAX_ENUMERATED):
                yield self.rng.randrange(size)

    def _single(self, assignment: Assignment) -> Iterator[None]:
        name = assignment.targets[0]
        value = evaluate_in(self.template, assignment.expression, self.domain_scope)
        equation = self.plan.get(name)
        if equation is not None:
            solved = equation.solve(self.scope)
            if solved is not None:
                accepted, element = pick_solution(value, solved, self.rng)
                if accepted:
                    self.env[name] = element
                    yield
                return
        if isinstance(value, list | tuple | range) and not is_worded_pair(value):
            for index in self._indices(len(value)):
                self.env[name] = as_worded(value[index])
                yield
        else:
            self.env[name] = as_worded(value)
            yield

    def _line(self, assignment: Assignment) -> Iterator[None]:
        for _ in range(LINE_REDRAWS):
            value = evaluate_in(self.template, assignment.expression, self.scope)
            bind(assignment, value, self.env, self.rng, self.template.id)
            yield

    def visit(self, step: int) -> bool:
        if step == len(self.order):
            try:
                self.answer = evaluate_in(self.template, self.template.answer, self.scope)
            except DivisionByZero:
                return False
            return True
        assignment = self.order[step]
        values = self._single(assignment) if len(assignment.targets) == 1 else (
            self._line(assignment)
        )
        try:
            for _ in values:
                self.nodes += 1
                if self.nodes > self.restart_after:
                    raise _Restart
                if self._holds(self.ready[step]) and self.visit(step + 1):
                    return True
        except DivisionByZero:
            return False
        return False


class _Restart(Exception):
    """The current pass of the search used its nodes: start again with fresh orders."""


def search_values(
    template: Template,
    plan: Mapping[str, Equation],
    rng: random.Random,
    scope: Scope,
    domain_scope: Scope,
) -> tuple[dict[str, Any], Any] | None:
    """(values, answer) meeting every condition (values are `scope.variables`), or None when
    the search (bounded by `MAX_ENUMERATED`, `LINE_REDRAWS` and the scope's work budget)
    finds none. Raises BudgetExhausted when the budget runs out first."""
    search = _Search(template, plan, rng, scope, domain_scope)
    while True:
        search.env.clear()
        search.env.update(template.vocabularies)
        search.nodes = 0
        try:
            return (search.env, search.answer) if search.visit(0) else None
        except _Restart:
            search.restart_after *= 2  # restarts with growing limits (complete in the end)
