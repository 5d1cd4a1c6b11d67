"""Equality conditions solved for one variable instead of guessed by rejection sampling.

A condition `lhs == rhs` fixes a variable `v` when both sides are affine in `v` (built from
`v` by `+`, `-`, unary minus, multiplication by and division by expressions that do not
read `v`), e.g. `k * 7 == d1 + d2` fixes `d2` (or `d1`, or `k`). With every other variable
drawn, `g(v) = lhs - rhs` is evaluated at v = 0 and v = 1 and `v = -g(0) / (g(1) - g(0))`;
the sampler keeps the draw when that value lies in `v`'s domain and every condition holds.
When the slope `g(1) - g(0)` is 0 for a draw (or a side is not a number), `v` is drawn from
its domain as usual for that draw.

Distribution: for a nonzero slope exactly one `v` solves the equation, so rejection sampling
would keep each valid draw of the other variables with the same probability (1 / |domain|);
solving keeps the same draws with probability 1, i.e. the same distribution, far faster.
(A draw with slope 0 is kept as rejection sampling would keep it, which weights it
|domain| times less than a solved draw; no published template has such draws.)

Which variable: a condition already of the form `v == expr` solves for `v` (the sampler's
`solvable_equalities`). Otherwise, among the variables that are assigned once, alone on
their line and read by no assignment, the one with the largest domain (ties: the later
one). An equation reading another solved variable is not used.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lmaudit.probes.templates.evaluator import (
    Expression,
    Scope,
    TemplateError,
    compile_expression,
    normalise,
    unwrap,
)
from lmaudit.probes.templates.model import Template


@dataclass(frozen=True)
class Equation:
    """Condition `index` solved for `name`: `value` when direct (`name == value`), else the
    two sides of a linear equation."""

    name: str
    index: int
    value: Expression | None = None
    lhs: Expression | None = None
    rhs: Expression | None = None

    def solve(self, scope: Scope) -> Any | None:
        """The value of `name` that meets the condition, given the other variables in
        `scope`; None when a linear equation is degenerate for this draw."""
        if self.value is not None:
            return self.value.evaluate(scope)
        low, high = self._gap(scope, 0), self._gap(scope, 1)
        if low is None or high is None or high == low:
            return None
        return normalise(-low / (high - low))

    def _gap(self, scope: Scope, at: int) -> Fraction | None:
        assert self.lhs is not None and self.rhs is not None
        probe = Scope({**scope.variables, self.name: at}, scope.functions, scope.budget)
        left, right = unwrap(self.lhs.evaluate(probe)), unwrap(self.rhs.evaluate(probe))
        if not all(type(x) in (int, Fraction) for x in (left, right)):
            return None
        return Fraction(left) - Fraction(right)


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def is_affine(node: ast.AST, name: str) -> bool:
    """True when the expression `node` is affine in the variable `name` (module docstring)."""
    if not _reads(node, name):
        return True
    if isinstance(node, ast.Name):
        return node.id == name
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return is_affine(node.operand, name)
    if isinstance(node, ast.BinOp):
        left, right = node.left, node.right
        if isinstance(node.op, ast.Add | ast.Sub):
            return is_affine(left, name) and is_affine(right, name)
        if isinstance(node.op, ast.Mult):
            return (not _reads(left, name) and is_affine(right, name)) or (
                not _reads(right, name) and is_affine(left, name)
            )
        if isinstance(node.op, ast.Div):
            return not _reads(right, name) and is_affine(left, name)
    return False


def _sides(condition: Expression) -> tuple[ast.expr, ast.expr] | None:
    node = ast.parse(condition.source, mode="eval").body
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        return node.left, node.comparators[0]
    return None


def _eligible(template: Template) -> list[str]:
    """Variables assigned once, alone on their line, and read by no assignment."""
    assigned: Counter[str] = Counter(t for a in template.assignments for t in a.targets)
    single = [a.targets[0] for a in template.assignments if len(a.targets) == 1]
    read = {n for a in template.assignments for n in a.expression.names}
    return [n for n in single if assigned[n] == 1 and n not in read]


def _domain_size(template: Template, name: str, functions: Mapping[str, Callable[..., Any]]) -> int:
    assignment = next(a for a in template.assignments if a.targets == (name,))
    try:
        value = assignment.expression.evaluate(Scope(dict(template.vocabularies), functions))
    except TemplateError:
        return 0
    return len(value) if isinstance(value, list | tuple | range) else 1


def equation_plan(
    template: Template,
    direct: Mapping[str, tuple[int, Expression]],
    functions: Mapping[str, Callable[..., Any]],
) -> dict[str, Equation]:
    """The equations the sampler solves: `direct` ones (`v == expr`) and linear ones."""
    plan = {name: Equation(name, index, value=expr) for name, (index, expr) in direct.items()}
    solved_by = {index for index, _ in direct.values()}
    read = {n for _, expr in direct.values() for n in expr.names}
    eligible = _eligible(template)
    order = {name: i for i, name in enumerate(eligible)}
    for index, condition in enumerate(template.conditions):
        sides = None if index in solved_by else _sides(condition)
        if sides is None:
            continue
        candidates = [
            n for n in eligible
            if n in condition.names and n not in plan and n not in read
            and not (condition.names - {n}) & set(plan)
            and all(is_affine(side, n) for side in sides)
        ]
        if not candidates:
            continue
        name = max(candidates, key=lambda n: (_domain_size(template, n, functions), order[n]))
        lhs, rhs = (compile_expression(ast.unparse(side)) for side in sides)
        plan[name] = Equation(name, index, lhs=lhs, rhs=rhs)
        read |= condition.names - {name}
    return plan
