"""Prompt variants: the same task items asked with another wording around them.

A suite's prompt variant gives a `template` in which `{input}` stands for each item's own
prompt (every other character is literal, braces included), and/or extra task options
(e.g. `fewshot: "5"`). The variant is a normal run of the wrapped task; its spec records
the template, so its manifest and hash differ from the base run's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lmaudit.core.task import Task, WrappedTask
from lmaudit.core.types import Sample

PLACEHOLDER = "{input}"


def apply_template(template: str, text: str) -> str:
    """`template` with every `{input}` replaced by `text` (no other formatting)."""
    return template.replace(PLACEHOLDER, text)


class PromptVariantTask(WrappedTask):
    """`base` with each sample's input wrapped in `template` (a Task)."""

    def __init__(self, base: Task, name: str, template: str) -> None:
        super().__init__(base)
        self.variant, self.template = name, template

    def spec(self) -> dict[str, Any]:
        return {**self.base.spec(), "prompt_variant": {"name": self.variant,
                                                       "template": self.template}}

    def samples(self) -> list[Sample]:
        return [dataclasses.replace(s, input=apply_template(self.template, s.input))
                for s in self.base.samples()]
