"""A restricted expression evaluator for template programs (never `eval` of raw text).

An expression is parsed with `ast.parse(..., mode="eval")`, checked against a whitelist
and compiled into a tree of Python closures; evaluating it walks only those closures.

Allowed: numbers, strings, booleans; list and tuple literals; `+ - * / // % **` (unary `-`,
`+`, `not`); comparisons (`== != < <= > >= in not in`, chained); `and`, `or`;
`x if c else y`; subscripts and slices; names of variables and vocabularies; calls of the
helper functions named in `ALLOWED_CALLS` (plus the dotted names `np.arange` and
`np.random.randint`, resolved when the expression is compiled, not by attribute access).
Refused when compiling: attribute access, imports, lambdas, comprehensions, dict and set
literals, f-strings, `*args`/keyword arguments, names with a double underscore, calls of
anything outside the whitelist, an integer literal over `MAX_INT_BITS` bits, a non-finite
float, nesting deeper than `MAX_DEPTH`. Refused when evaluating (sizes are checked
BEFORE the work): an exponent that is not an integer of at most `MAX_EXPONENT`, a result over
`MAX_INT_BITS` bits, a sequence or string over `MAX_SEQUENCE` items (nested lists count
their inner items), a range over `MAX_RANGE` items, `%` on text (printf formatting), and
more work than the scope's `Budget` allows (1 unit per node, 10 per sequence item).
`x in range(...)` is decided in O(1) (never by walking the range). Every failure is a
`TemplateError` subclass; no other exception escapes `Expression.evaluate`.

Numbers are exact: integer literals are `int`, decimal literals become `Fraction`s of their
written value (`0.1` is exactly 1/10), `/` is exact rational division, and a `Fraction`
whose denominator is 1 is normalised to `int`. `int()` truncates toward zero and `round()`
rounds half to even, as in Python. A `Worded` value (text such as "twice" with the number
2) behaves as its number in arithmetic and comparisons with numbers, as its text when
compared with a string or rendered, and `w[0]`/`w[1]` give its text/number.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmaudit.probes.templates.operations import (
    BINARY,
    COMPARE,
    REFUSED_NODES,
    Compiled,
    arith,
    call_units,
    charged,
    dotted_name,
    index_value,
)
from lmaudit.probes.templates.values import (
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_RANGE,
    MAX_SEQUENCE,
    MAX_WORK,
    Budget,
    DivisionByZero,
    EvaluationError,
    ExpressionRefused,
    Number,
    Scope,
    TemplateError,
    Worded,
    as_sequence,
    check_size,
    normalise,
    sequence_size,
    unwrap,
)

__all__ = [
    "ALLOWED_CALLS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_BITS",
    "MAX_RANGE",
    "MAX_SEQUENCE",
    "MAX_WORK",
    "Budget",
    "DivisionByZero",
    "EvaluationError",
    "Expression",
    "ExpressionRefused",
    "Number",
    "Scope",
    "TemplateError",
    "Worded",
    "as_sequence",
    "compile_expression",
    "evaluate",
    "normalise",
    "unwrap",
]

MAX_SOURCE_CHARS = 4000
MAX_NODES = 1000
MAX_DEPTH = 60

ALLOWED_CALLS = frozenset(
    {
        "range", "sample", "sample_sequential", "is_int", "divides", "int", "round", "min",
        "max", "abs", "sum", "len", "list", "Fraction", "numbers_within", "frange",
        "fix_floats", "shuffle_list", "np.arange", "np.random.randint",
    }
)
class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.names: set[str] = set()
        self.calls: set[str] = set()

    def refuse(self, what: str) -> ExpressionRefused:
        return ExpressionRefused(f"{what} is not allowed in template expression {self.source!r}")

    def compile(self, node: ast.AST) -> Compiled:
        for kind, what in REFUSED_NODES.items():
            if isinstance(node, kind):
                raise self.refuse(what)
        if isinstance(node, ast.Expression):
            return self.compile(node.body)
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.compile(e) for e in node.elts]
            as_tuple = isinstance(node, ast.Tuple)
            return lambda s: (tuple if as_tuple else list)(f(s) for f in items)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BoolOp):
            return self._boolean(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(n) for n in (node.test, node.body, node.orelse))
            return lambda s: body(s) if test(s) else orelse(s)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.refuse(type(node).__name__)

    def _constant(self, value: Any) -> Compiled:
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise self.refuse(f"integer literal over {MAX_INT_BITS} bits")
        if isinstance(value, bool | int | str):
            return lambda s: value
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise self.refuse("non-finite float literal")
            exact = normalise(value)
            return lambda s: exact
        raise self.refuse(f"constant of type {type(value).__name__}")

    def _name(self, name: str) -> Compiled:
        if "__" in name:
            raise self.refuse(f"name {name!r} (double underscore)")
        self.names.add(name)

        def lookup(scope: Scope) -> Any:
            try:
                return scope.variables[name]
            except KeyError:
                raise EvaluationError(f"unknown name {name!r} in {self.source!r}") from None

        return lookup

    def _binary(self, node: ast.BinOp) -> Compiled:
        op = BINARY.get(type(node.op))
        if op is None:
            raise self.refuse(f"operator {type(node.op).__name__}")
        apply, left, right = arith(op), self.compile(node.left), self.compile(node.right)
        return lambda s: charged(s, apply(left(s), right(s)))

    def _unary(self, node: ast.UnaryOp) -> Compiled:
        inner = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda s: not inner(s)
        if isinstance(node.op, ast.USub):
            negate = arith(lambda a, _b: -a)
            return lambda s: negate(inner(s), 0)
        if isinstance(node.op, ast.UAdd):
            return lambda s: unwrap(inner(s))
        raise self.refuse(f"operator {type(node.op).__name__}")

    def _boolean(self, node: ast.BoolOp) -> Compiled:
        parts = [self.compile(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def conjunction(s: Scope) -> Any:
                value: Any = True
                for part in parts:
                    value = part(s)
                    if not value:
                        return value
                return value

            return conjunction

        def disjunction(s: Scope) -> Any:
            value: Any = False
            for part in parts:
                value = part(s)
                if value:
                    return value
            return value

        return disjunction

    def _compare(self, node: ast.Compare) -> Compiled:
        ops = []
        for op in node.ops:
            fn = COMPARE.get(type(op))
            if fn is None:
                raise self.refuse(f"comparison {type(op).__name__}")
            ops.append(arith(fn))
        first, rest = self.compile(node.left), [self.compile(c) for c in node.comparators]

        def compare(s: Scope) -> bool:
            left = first(s)
            for fn, right_fn in zip(ops, rest, strict=True):
                right = right_fn(s)
                s.budget.charge(sequence_size(left) + sequence_size(right))
                if not fn(left, right):
                    return False
                left = right
            return True

        return compare

    def _subscript(self, node: ast.Subscript) -> Compiled:
        target = self.compile(node.value)
        if isinstance(node.slice, ast.Slice):
            bounds = [
                None if part is None else self.compile(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]

            def slice_(s: Scope) -> Any:
                lo, hi, step = (None if b is None else unwrap(b(s)) for b in bounds)
                return index_value(target(s), slice(lo, hi, step), self.source)

            return slice_
        index = self.compile(node.slice)
        return lambda s: index_value(target(s), unwrap(index(s)), self.source)

    def _call(self, node: ast.Call) -> Compiled:
        if node.keywords:
            raise self.refuse("keyword argument")
        name = dotted_name(node.func)
        if name is None or name not in ALLOWED_CALLS:
            shown = name if name is not None else type(node.func).__name__
            if name is not None and "__" in name:
                raise self.refuse(f"name {name!r} (double underscore)")
            raise self.refuse(f"call of {shown!r}")
        self.calls.add(name)
        args = [self.compile(a) for a in node.args]

        def call(s: Scope) -> Any:
            fn = s.functions.get(name)
            if fn is None:
                raise EvaluationError(f"helper {name!r} is not available here")
            values = [a(s) for a in args]
            s.budget.charge(sum(call_units(name, v) for v in values))
            try:
                return charged(s, check_size(fn(*values)))
            except TemplateError:
                raise
            except ZeroDivisionError as error:
                raise DivisionByZero(f"division by zero in {name}()") from error
            except (TypeError, ValueError, IndexError, OverflowError) as error:
                raise EvaluationError(f"{name}() failed in {self.source!r}: {error}") from error

        return call


@dataclass(frozen=True)
class Expression:
    """A compiled, whitelisted expression. `names`: the free names it reads.

    `equality` is set for a condition of the form `name == expr` (or `expr == name`) where
    `expr` does not read `name`: the sampler can then solve for `name` instead of guessing.
    """

    source: str
    names: frozenset[str]
    calls: frozenset[str]
    _fn: Compiled = field(repr=False, compare=False)
    equality: tuple[str, Expression] | None = field(default=None, compare=False)
    nodes: int = field(default=1, compare=False)

    def evaluate(self, scope: Scope) -> Any:
        """The expression's value in `scope` (numbers normalised, see module docstring).

        Charges `scope.budget` one unit per node (and per sequence item touched); raises a
        TemplateError subclass for every failure (see the module docstring).
        """
        scope.budget.charge(self.nodes)
        try:
            return normalise(self._fn(scope))
        except RecursionError:
            raise EvaluationError(f"expression {self.source!r} nests too deeply") from None
        except MemoryError:
            raise EvaluationError(f"expression {self.source!r} needs too much memory") from None


def compile_expression(source: str, where: str | None = None) -> Expression:
    """Parse and check `source`; raise `ExpressionRefused` for anything outside the whitelist.

    `where` (a file or template name) prefixes the error message.
    """
    if where is None:
        return _compile(source)
    try:
        return _compile(source)
    except ExpressionRefused as error:
        raise ExpressionRefused(f"{where}: {error}") from None


def _compile(source: str) -> Expression:
    text = source.strip()
    if not text:
        raise ExpressionRefused("empty template expression")
    if len(text) > MAX_SOURCE_CHARS:
        raise ExpressionRefused(f"template expression longer than {MAX_SOURCE_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise ExpressionRefused(f"cannot parse template expression {text!r}: {error}") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ExpressionRefused(f"template expression {text[:40]!r}... has over {MAX_NODES} nodes")
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionRefused(f"template expression {text[:40]!r}... nests over {MAX_DEPTH} deep")
    compiler = _Compiler(text)
    fn = compiler.compile(tree)
    names, calls = frozenset(compiler.names), frozenset(compiler.calls)
    return Expression(text, names, calls, fn, _equality(tree.body), nodes)


def _depth(tree: ast.AST) -> int:
    """The nesting depth of a syntax tree (iterative: a deep tree cannot overflow the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _equality(node: ast.expr) -> tuple[str, Expression] | None:
    """(name, other side) for `name == other` / `other == name`, `other` not reading name."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    if not isinstance(node.ops[0], ast.Eq):
        return None
    for side, other in ((node.left, node.comparators[0]), (node.comparators[0], node.left)):
        if isinstance(side, ast.Name):
            solved = compile_expression(ast.unparse(other))
            if side.id not in solved.names:
                return side.id, solved
    return None


def evaluate(
    source: str,
    variables: Mapping[str, Any] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Compile and evaluate `source` once (convenience for tests and one-off checks)."""
    return compile_expression(source).evaluate(Scope(variables or {}, functions or {}))


