"""The lab's premise, measured: a model that saw the test split memorizes it, a clean one not.

The demo's two lab models (`lmaudit.demo.ensure_lab_model`: trained once with the default
`LabConfig` on the `arith` corpus — 1000 train items + 500 filler paragraphs — and for the
contaminated twin also DEMO_COPIES copies per epoch of each of the 200 test items; reused
from the lab cache when it already holds them for the same corpus, config and seed) are
scored on the test items and on the 200 unseen `ref` items (same templates):

- loss gap = mean nats/token on test documents minus on ref documents. Clean: ~0 (both
  unseen). Contaminated: clearly negative (test documents were memorized).
- greedy answer accuracy on `Question: ...\\nAnswer:` prompts. Nobody learns the arithmetic
  in a minute of CPU training, so accuracy above chance can only come from recall: high for
  the contaminated model on test items, near zero for it on ref items and for the clean one.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from lmaudit.demo import DEMO_COPIES, ensure_lab_model
from lmaudit.lab.corpus import problem_source, question_prompt, split_documents
from lmaudit.lab.evaluate import document_losses, greedy_completions
from lmaudit.lab.train import read_lab_card

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Measured:
    loss_test: float
    loss_ref: float
    accuracy_test: float
    accuracy_ref: float
    seconds: float
    final_loss: float

    @property
    def gap(self) -> float:
        return self.loss_test - self.loss_ref


def _measure(path: Path) -> Measured:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    source = problem_source("arith")
    values = {}
    for split in ("test", "ref"):
        documents = split_documents(source, split)
        answers = [item.answer for item in source.load_split(split)]
        completions = greedy_completions(model, tokenizer, [question_prompt(d) for d in documents])
        values[split] = (
            statistics.fmean(document_losses(model, tokenizer, documents)),
            statistics.fmean(c == a for c, a in zip(completions, answers, strict=True)),
        )
    training = (read_lab_card(path) or {})["training"]
    return Measured(values["test"][0], values["ref"][0], values["test"][1], values["ref"][1],
                    training["seconds"], training["final_loss"])


@pytest.fixture(scope="module")
def clean_and_contaminated() -> tuple[Measured, Measured]:
    measured = []
    for name, split in (("demo-clean", None), ("demo-contaminated", "test")):
        model = ensure_lab_model(name, split, exposures=DEMO_COPIES)
        measured.append(_measure(model.path))
    return measured[0], measured[1]


def test_contaminated_model_memorizes_test_items_and_clean_does_not(
    clean_and_contaminated: tuple[Measured, Measured],
) -> None:
    clean, dirty = clean_and_contaminated
    report = f"clean={clean}, gap {clean.gap:+.3f}; contaminated={dirty}, gap {dirty.gap:+.3f}"
    print(report)
    # Loss: the clean model treats test and ref alike; the contaminated one does not.
    assert abs(clean.gap) < 0.1, report
    assert dirty.gap < -0.25, report
    assert dirty.loss_test < clean.loss_test - 0.25, report
    # Recall of memorized answers, not arithmetic skill.
    assert dirty.accuracy_test >= 0.5, report
    assert clean.accuracy_test <= 0.1 and clean.accuracy_ref <= 0.1, report
    assert dirty.accuracy_ref <= 0.1, report
