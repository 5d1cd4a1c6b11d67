"""Documents to prompts as lm-evaluation-harness 0.4 renders them (plain text, no chat
template).

- `doc_to_text` / `doc_to_target` / `doc_to_choice`: an int is itself; a string naming a
  dataset column is that column's value; any other string is a Jinja template (strict
  undefined, trailing newline kept, lm-eval's `regex_replace` filter). A rendered text or
  target made only of digits becomes an int when the task has choices; a rendered target
  in brackets is read as a Python literal (several targets). A rendered `doc_to_choice`
  is read as a Python literal list; a list is the choices as written.
- The context of one document: `description` + each few-shot example as
  `text + target_delimiter + answer + fewshot_delimiter` + the document's text.
- Few-shot examples: lm-eval's `default` sampler is one `random.Random(fewshot_seed)` that
  draws `rnd.sample(pool, n)` for each evaluated document in order; when the few-shot
  split is the evaluation split it draws n + 1 and drops the document itself. `first_n`
  takes the pool's first n (without the document).
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from lmaudit.core.types import LmauditError

Doc = Mapping[str, Any]


def _regex_replace(text: str, pattern: str, replacement: str, count: int = 0) -> str:
    return re.sub(pattern, replacement, text, count=count)


_ENV = jinja2.Environment(
    loader=jinja2.BaseLoader(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    autoescape=False,
)
_ENV.filters["regex_replace"] = _regex_replace


def render(template: str, doc: Doc, key: str) -> str:
    """A Jinja template filled from a document; an undefined field names `key`."""
    try:
        return _ENV.from_string(template).render(**doc)
    except jinja2.TemplateError as error:
        raise LmauditError(f"{key} template {template[:60]!r}: {error}") from None


class DocRenderer:
    """Renders one task's documents (`config` is the lm-eval task mapping, `features` the
    dataset's column names)."""

    def __init__(self, config: Mapping[str, Any], features: Sequence[str]) -> None:
        self.config = config
        self.features = frozenset(features)
        self.has_choices = config.get("doc_to_choice") is not None

    def _field_or_template(self, spec: Any, doc: Doc, key: str) -> Any:
        if isinstance(spec, str) and spec in self.features:
            return doc[spec]
        if isinstance(spec, str):
            return render(spec, doc, key)
        if callable(spec):
            return spec(doc)
        return spec

    def text(self, doc: Doc, spec: Any = None) -> Any:
        """`doc_to_text` of a document."""
        spec = self.config.get("doc_to_text") if spec is None else spec
        value = self._field_or_template(spec, doc, "doc_to_text")
        if isinstance(spec, str) and spec not in self.features and isinstance(value, str) \
                and value.isdigit() and self.has_choices:
            return ast.literal_eval(value)
        return value

    def target(self, doc: Doc, spec: Any = None) -> Any:
        """`doc_to_target` of a document (an int index, a string, or a list)."""
        spec = self.config.get("doc_to_target") if spec is None else spec
        value = self._field_or_template(spec, doc, "doc_to_target")
        if isinstance(spec, str) and spec not in self.features and isinstance(value, str):
            if value.isdigit() and self.has_choices:
                return ast.literal_eval(value)
            if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
                try:
                    return ast.literal_eval(value)
                except (SyntaxError, ValueError):
                    return value
        return value

    def choices(self, doc: Doc, spec: Any = None) -> list[str]:
        """`doc_to_choice` of a document."""
        spec = self.config.get("doc_to_choice") if spec is None else spec
        if isinstance(spec, str) and spec not in self.features:
            rendered = render(spec, doc, "doc_to_choice")
            try:
                value = ast.literal_eval(rendered)
            except (SyntaxError, ValueError):
                raise LmauditError(
                    f"doc_to_choice rendered {rendered[:60]!r}, not a list") from None
        elif isinstance(spec, dict):
            value = list(spec.values())
        else:
            value = self._field_or_template(spec, doc, "doc_to_choice")
        return [str(c) for c in value]

    def answer_text(self, doc: Doc) -> str:
        """The answer a few-shot example shows: the chosen choice for an index, the first
        of several targets, else the target."""
        target = self.target(doc)
        if self.has_choices and isinstance(target, int):
            return self.choices(doc)[target]
        if isinstance(target, list):
            return str(target[0])
        return str(target)

    def context(self, doc: Doc, examples: Sequence[Doc]) -> str:
        """description + few-shot examples + the document's text."""
        target_delimiter = str(self.config.get("target_delimiter", " "))
        fewshot_delimiter = str(self.config.get("fewshot_delimiter", "\n\n"))
        description = self.config.get("description") or ""
        parts = [render(description, doc, "description") if description else ""]
        for example in examples:
            parts.append(f"{self.text(example)}{target_delimiter}{self.answer_text(example)}"
                         f"{fewshot_delimiter}")
        text = self.text(doc)
        if isinstance(text, int):
            raise LmauditError("doc_to_text gives a choice index (multiple inputs): "
                               "not supported yet")
        return "".join(parts) + str(text)


def fewshot_examples(
    docs: Sequence[Doc], pool: Sequence[Doc], n: int, *, seed: int, sampler: str,
    exclude_self: bool,
) -> list[list[Doc]]:
    """The few-shot examples of each document in `docs` (in order), drawn as lm-eval does
    (see the module docstring)."""
    if n <= 0:
        return [[] for _ in docs]
    if not pool:
        raise LmauditError("num_fewshot > 0 but the few-shot split holds no documents")
    if sampler == "first_n":
        return [[d for d in pool if not (exclude_self and d == doc)][:n] for doc in docs]
    rnd = random.Random(seed)
    drawn: list[list[Doc]] = []
    for doc in docs:
        if not exclude_self:
            drawn.append(rnd.sample(list(pool), n))
            continue
        examples = [d for d in rnd.sample(list(pool), n + 1) if d != doc][:n]
        if len(examples) < n:
            examples = rnd.sample([d for d in pool if d != doc], n)
        drawn.append(examples)
    return drawn


