"""Template-based variants of `arith` samples: fresh names and numbers, template no-ops.

A sample is templated when its id is an `arith` item id (tasks `arith` and `arith_mc`).
Instance sets are fixed by their index, not by a run seed: set k of item i is always
`reinstantiate(item_i, k)`, so two models probed with the same K see the same questions
and can be compared item by item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from lmaudit.core.types import LmauditError, Sample
from lmaudit.probes.perturb import probe_metadata, variant_id
from lmaudit.probes.templates import TemplateError, instantiate
from lmaudit.probes.templates.sampler import render_question

MAX_INSTANCE_SETS = 100  # arith.reinstantiate gives distinct draws for seeds 0..99


@lru_cache(maxsize=1)
def _arith_items() -> Mapping[str, object]:
    from lmaudit.tasks import arith

    return {item.id: item for split in arith.SPLITS for item in arith.load_split(split)}


def arith_item_for(sample: Sample) -> object | None:
    """The `ArithItem` behind a sample (by id), None when the sample is not an arith item."""
    if not sample.id.startswith("arith-"):
        return None
    return _arith_items().get(sample.id)


def symbolic_variant(sample: Sample, variant_set: int) -> Sample | None:
    """Instance set `variant_set` of an arith sample: same template, fresh names and
    numbers (`arith.reinstantiate(item, variant_set)`), a question no split contains.
    Multiple choice keeps its number of options, from `arith.make_choices(new, k, 0)`.
    None when the sample is not an arith item."""
    from lmaudit.tasks import arith

    if not 0 <= variant_set < MAX_INSTANCE_SETS:
        raise LmauditError(f"instance set {variant_set} outside 0..{MAX_INSTANCE_SETS - 1}")
    item = arith_item_for(sample)
    if not isinstance(item, arith.ArithItem) or item.question not in sample.input:
        return None
    fresh = arith.reinstantiate(item, variant_set)
    text = sample.input.replace(item.question, fresh.question)
    metadata = probe_metadata(
        sample, "symbolic", variant_set, instance_question=fresh.question, fresh_id=fresh.id
    )
    new_id = variant_id(sample, "symbolic", variant_set)
    if sample.choices:
        options, correct = arith.make_choices(fresh, k=len(sample.choices), seed=0)
        return replace(sample, id=new_id, input=text, target=int(correct),
                       choices=tuple(options), metadata=metadata)
    return replace(sample, id=new_id, input=text, target=fresh.answer, metadata=metadata)


def template_noop_variant(sample: Sample) -> Sample | None:
    """The arith sample with its template's `noop` clause (clause variables at their
    original values, the item's own values elsewhere); same answer. None when the sample is
    not an arith item or its template has no noop variant."""
    from lmaudit.tasks import arith

    item = arith_item_for(sample)
    if not isinstance(item, arith.ArithItem):
        return None
    template = next((t for t in arith.load_templates() if t.id == item.template_id), None)
    if template is None or "noop" not in template.variants:
        return None
    noop = template.variants["noop"]
    try:
        base = instantiate(template, item.instance)
        question = render_question(noop, {**noop.originals, **base.variables})
    except TemplateError:
        return None
    if base.question != item.question or item.question not in sample.input:
        return None
    return replace(
        sample,
        id=variant_id(sample, "noop", 0),
        input=sample.input.replace(item.question, question),
        metadata=probe_metadata(sample, "noop", 0, clause_source="template"),
    )
