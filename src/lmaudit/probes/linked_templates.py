"""Templates linked to the benchmark items they were made from (GSM-Symbolic on GSM8K).

`lmaudit probe run --task gsm8k --templates DIR` links every template in DIR to the task
item whose question is the template's source question (`Template.source_question`, the
`question` field of a GSM-Symbolic file), compared after `normalize_question`: lower case,
every run of characters other than letters and digits made one space (so "Janet’s" and
"Janet's", double spaces and trailing spaces all agree). The task item's question is its
`question` field (`Sample.metadata["fields"]["question"]`).

Families: a template of GSM-Symbolic's `symbolic` folder (or of lmaudit's YAML format)
gives the `symbolic` family; `p1` and `p2` templates (one and two clauses harder, with
their own answers) give the `p1` and `p2` families. Instance set k (0-based) of an item is
instance k + 1 of its template (`instantiate`), the question replaced in the item's prompt
and the target set to that instance's answer, so every model sees the same questions.

A template that links to nothing is listed with its reason (no source question; no item
with that question; more than one item with it; another template of the same family took
the item; its item is not among the probed ones; an instance failed), never dropped
silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError, Sample
from lmaudit.probes.perturb import probe_metadata, variant_id
from lmaudit.probes.templates import Template, TemplateError, instantiate, load_template_dir

TEMPLATE_FAMILIES = ("symbolic", "p1", "p2")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_question(text: str) -> str:
    """Lower case; every run of non-alphanumeric characters becomes one space; stripped."""
    return _NOT_ALNUM.sub(" ", text.lower()).strip()


def template_family(template: Template) -> str:
    """`symbolic`, `p1` or `p2` (GSM-Symbolic folders); lmaudit templates are `symbolic`."""
    family = template.family.removeprefix("gsm-symbolic/")
    return family if family in TEMPLATE_FAMILIES else "symbolic"


def sample_question(sample: Sample) -> str | None:
    """The item's question text: its `question` field, when the task keeps fields."""
    fields = sample.metadata.get("fields")
    question = fields.get("question") if isinstance(fields, dict) else None
    return question if isinstance(question, str) else None


@dataclass(frozen=True)
class TemplateLinks:
    """Templates by probed item id and family, and the templates left out with reasons."""

    by_item: dict[str, dict[str, Template]] = field(default_factory=dict)
    unlinked: list[tuple[str, str]] = field(default_factory=list)
    directory: str | None = None

    def families(self) -> set[str]:
        return {family for linked in self.by_item.values() for family in linked}

    def template_for(self, sample: Sample, family: str) -> Template | None:
        return self.by_item.get(str(sample.metadata.get("original_id", sample.id)), {}).get(
            family
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form for `probe_results.json` (field `templates`)."""
        linked = [
            {"template_id": t.id, "item_id": item, "family": family}
            for item, families in self.by_item.items() for family, t in families.items()
        ]
        return {
            "directory": self.directory,
            "n_linked": len(linked),
            "n_unlinked": len(self.unlinked),
            "linked": linked,
            "unlinked": [{"template_id": t, "reason": r} for t, r in self.unlinked],
        }


def link_templates(templates: Sequence[Template], samples: Sequence[Sample]) -> TemplateLinks:
    """Link each template to the one sample whose question matches its source question
    (module docstring); one template per item and family (the first, by path)."""
    index: dict[str, list[Sample]] = {}
    for sample in samples:
        question = sample_question(sample)
        if question is not None:
            index.setdefault(normalize_question(question), []).append(sample)
    links = TemplateLinks()
    for template in templates:
        reason = _link_one(template, index, links)
        if reason is not None:
            links.unlinked.append((template.id, reason))
    return links


def _link_one(
    template: Template,
    index: dict[str, list[Sample]],
    links: TemplateLinks,
) -> str | None:
    """Add the template's link to `links`; else the reason it has none."""
    if not template.source_question:
        return "the template file holds no source question"
    matches = index.get(normalize_question(template.source_question), [])
    if not matches:
        return "no item of the task has this question"
    if len(matches) > 1:
        return f"{len(matches)} items have this question: {', '.join(s.id for s in matches)}"
    item = matches[0].id
    family = template_family(template)
    taken = links.by_item.setdefault(item, {})
    if family in taken:
        return f"item {item} already has {family} template {taken[family].id}"
    taken[family] = template
    return None


def load_links(directory: str | Path, samples: Sequence[Sample]) -> TemplateLinks:
    """Templates of `directory` (recursively) linked to `samples`; files that fail to
    parse are listed as unlinked with their parse error."""
    templates, failures = load_template_dir(directory)
    links = link_templates(templates, samples)
    links.unlinked.extend((source, f"cannot be read: {reason}") for source, reason in failures)
    return replace(links, directory=str(directory))


def restrict(links: TemplateLinks, probed: Sequence[Sample]) -> TemplateLinks:
    """Only the links to `probed` items; the others become unlinked with that reason."""
    keep = {s.id for s in probed}
    by_item = {item: fam for item, fam in links.by_item.items() if item in keep}
    unlinked = list(links.unlinked) + [
        (t.id, f"its item {item} is not among the probed items (--limit)")
        for item, families in links.by_item.items() if item not in keep
        for t in families.values()
    ]
    return TemplateLinks(by_item, unlinked, links.directory)


def template_variants(sample: Sample, template: Template, family: str, n_sets: int) -> list[Sample]:
    """Instance sets 0..n_sets-1 of `sample` from its linked template (module docstring).

    Raises TemplateError when an instance cannot be made (the caller lists the template),
    and LmauditError when the item's prompt does not contain its question verbatim.
    """
    question = sample_question(sample)
    if question is None or question not in sample.input:
        raise LmauditError(f"item {sample.id}: its prompt does not contain its question")
    variants = []
    for variant_set in range(n_sets):
        item = instantiate(template, variant_set + 1)
        metadata = probe_metadata(
            sample, family, variant_set, template_id=template.id,
            instance_question=item.question,
        )
        variants.append(replace(
            sample, id=variant_id(sample, family, variant_set),
            input=sample.input.replace(question, item.question), target=item.answer,
            choices=None, metadata=metadata,
        ))
    return variants


def linked_variants(
    links: TemplateLinks, sample: Sample, family: str, n_sets: int
) -> list[Sample | None]:
    """The sample's variants of `family` from its linked template, or [None] when it has
    none (or its template fails: then the template joins `links.unlinked`)."""
    template = links.template_for(sample, family)
    if template is None:
        return [None]
    try:
        return list(template_variants(sample, template, family, n_sets))
    except TemplateError as error:
        links.unlinked.append((template.id, f"an instance failed: {error}"))
        del links.by_item[sample.id][family]
        return [None]
