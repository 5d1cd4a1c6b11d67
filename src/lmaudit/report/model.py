"""The typed results the Report stage renders: every object is a frozen dataclass.

`load_report` (loading.py) builds an `AuditReport` from run, probe, contamination and audit
directories; the terminal, JSON and HTML renderers read the same objects and compute
nothing statistical themselves. Conventions:

- scores, accuracies, drops and differences are in the metric's units (shares in [0, 1]
  for accuracies); renderers print shares as percentages and drops as points;
- every interval is two-sided 95% (`Estimate.confidence`);
- missing evidence is `None`, never a made-up value; stages that did not finish are listed
  in `AuditReport.stages` and in each card's `missing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lmaudit.contamination.report import ContaminationReport
from lmaudit.editing.results import EditEvaluation
from lmaudit.interop.diff_pairs import PairDiff  # lmaudit diff
from lmaudit.probes.analysis import FamilyResult, ProbeAnalysis
from lmaudit.report.change_model import ModelChange
from lmaudit.report.compute_model import ComputeSection
from lmaudit.report.sampling_curves import SampleCurves  # repeated sampling
from lmaudit.report.scaling_model import ScalingSection  # scaling sweeps
from lmaudit.report.thinking_budget_model import BudgetCurve  # thinking budget
from lmaudit.stats import Estimate, ReliabilityBin

TRUSTED = "trusted"
CAUTION = "caution"
NOT_TRUSTED = "not trusted"


@dataclass(frozen=True)
class Reference:
    """Reference lines of a task: chance level and published human baselines (shares)."""

    chance: float | None = None
    human: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreEvidence:
    """The headline metric of one model × task run, with its interval."""

    metric: str
    estimate: Estimate
    higher_is_better: bool
    n_samples: int


@dataclass(frozen=True)
class ProbeEvidence:
    """A model × task's probe analysis (the probe runner's own `ProbeAnalysis`, rebuilt from
    probe_results.json; several probe runs merged). `metric`: the correctness metric used."""

    model: str
    task: str
    metric: str
    analysis: ProbeAnalysis

    @property
    def families(self) -> tuple[FamilyResult, ...]:
        return tuple(self.analysis.families.values())

    @property
    def primary_family(self) -> FamilyResult | None:
        primary = self.analysis.primary
        return None if primary is None else self.analysis.families.get(primary)

    @property
    def histogram_family(self) -> FamilyResult | None:
        """The family with the most instance sets (two or more), for the histogram."""
        many = [f for f in self.families if f.n_sets >= 2 and f.family != "permute"]
        return max(many, key=lambda f: f.n_sets) if many else None


@dataclass(frozen=True)
class CorpusScan:
    """A corpus scan of a task's items (model-independent, `contamination scan`): how many
    items share an n-gram with the corpus, answer-anchored matches, Llama-2 `dirty` items
    (>= 80% of words in matched spans), and which checks ran."""

    task: str
    n_items: int
    flagged_ngram: int
    answer_anchored: int
    dirty: int
    ngram: int
    corpus_documents: int
    corpus_bytes: int
    checks: tuple[str, ...]
    note: str

    @property
    def dirty_share(self) -> float:
        return self.dirty / self.n_items if self.n_items else 0.0


@dataclass(frozen=True)
class Calibration:
    """ECE (10 equal-width bins), Brier (multi-class, 0 to 2) and the reliability bins."""

    ece: Estimate | None
    brier: Estimate | None
    bins: tuple[ReliabilityBin, ...]


@dataclass(frozen=True)
class CostSummary:
    """Tokens as the backend counted them; cost in USD when a price was given."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    requests: int | None = None


@dataclass(frozen=True)
class Trust:
    """How far a score can be trusted: a level (`trusted`, `caution`, `not trusted`), the
    plain sentence, and the short names of the evidence that decided it."""

    level: str
    sentence: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustCard:
    """Everything known about one model × task."""

    model: str
    task: str
    score: ScoreEvidence | None
    probe: ProbeEvidence | None
    contamination: ContaminationReport | None
    calibration: Calibration | None
    extraction_failure: Estimate | None
    cost: CostSummary | None
    reference: Reference | None
    trust: Trust
    missing: tuple[str, ...] = ()
    scan: CorpusScan | None = None
    # metrics the task asked to show under the headline (e.g. safety: over-refusal)
    card_metrics: tuple[tuple[str, Estimate], ...] = ()


@dataclass(frozen=True)
class PairedRow:
    """B minus A on the samples both runs scored, with raw and adjusted p-values.
    `test`: `McNemar exact` for 0/1 metrics, else `paired t`."""

    task: str
    metric: str
    model_a: str
    model_b: str
    n_shared: int
    mean_a: Estimate
    mean_b: Estimate
    difference: Estimate
    test: str
    p_value: float
    p_holm: float
    p_bh: float


@dataclass(frozen=True)
class TaskPower:
    """Smallest difference in `metric` detectable at 80% power, alpha 0.05, with n items:
    `mde` at the observed mean `baseline`, `mde_worst` at the largest variance (accuracy
    0.5 for 0/1 metrics; equal to `mde` otherwise), see stats.power."""

    task: str
    metric: str
    n: int
    baseline: float
    mde: float
    mde_worst: float


@dataclass(frozen=True)
class Comparison:
    """Paired differences across models (p adjusted over all tasks and metrics together)."""

    rows: tuple[PairedRow, ...]
    power: tuple[TaskPower, ...]
    n_tests: int


@dataclass(frozen=True)
class PromptSpread:
    """A model × task's headline score under each prompt variant; `spread` = max − min."""

    model: str
    task: str
    metric: str
    variants: tuple[tuple[str, Estimate], ...]
    spread: float


@dataclass(frozen=True)
class Provenance:
    """What reproduces one run: versions, fingerprint, prompt template and spec hashes."""

    label: str
    kind: str
    path: str
    lmaudit_version: str | None
    git_hash: str | None
    model_fingerprint: str | None
    task_spec_hash: str | None
    prompt_template_hash: str | None
    seed: int | None
    scoring_path: str | None
    created: str | None
    libraries: Mapping[str, str]


@dataclass(frozen=True)
class StageStatus:
    """One stage of an audit (audit.json) as the report saw it."""

    id: str
    kind: str
    model: str
    task: str
    variant: str | None
    state: str
    error: str | None
    dir: str | None


@dataclass(frozen=True)
class AuditInfo:
    """The audit's own record: suite, models, the command that reproduces it."""

    suite_name: str | None
    suite_path: str | None
    suite_sha256: str | None
    models: tuple[str, ...]
    command: tuple[str, ...]
    created: str | None
    lmaudit_version: str | None


@dataclass(frozen=True)
class SampleTable:
    """Every sample for the viewer, column-wise (row i of every tuple is one sample).

    `run`: index into `runs` (label "model · task[ · variant]"); `variant`: probe variant
    family or prompt variant ("original" for plain runs); `original_id`: the item a probe
    variant was made from ("" otherwise); `score`: the headline metric (None when absent);
    `disagree`: the models' scores on this item differ (same task, variant and id).
    """

    runs: tuple[tuple[str, str, str], ...]
    run: tuple[int, ...]
    sample_id: tuple[str, ...]
    variant: tuple[str, ...]
    original_id: tuple[str, ...]
    prompt: tuple[str, ...]
    response: tuple[str, ...]
    extracted: tuple[str, ...]
    target: tuple[str, ...]
    score: tuple[float | None, ...]
    disagree: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.run)


@dataclass(frozen=True)
class AuditReport:
    """The whole report: cards, comparison, probes, prompt sensitivity, provenance and the
    samples. `sources` are the directories it was loaded from; `notes` hold anything the
    loader could not use (said, never hidden)."""

    sources: tuple[str, ...]
    audit: AuditInfo | None
    cards: tuple[TrustCard, ...]
    comparison: Comparison
    prompt_sensitivity: tuple[PromptSpread, ...]
    provenance: tuple[Provenance, ...]
    stages: tuple[StageStatus, ...]
    samples: SampleTable
    references: Mapping[str, Reference] = field(default_factory=dict)
    compute: ComputeSection | None = None  # cost and test-time compute (report.compute)
    sampling: tuple[SampleCurves, ...] = ()  # repeated sampling (report.sampling_curves)
    notes: tuple[str, ...] = ()
    change: ModelChange | None = None  # before/after audits (`--baseline`) only
    editing: EditEvaluation | None = None  # `lmaudit edit-eval`
    thinking: tuple[BudgetCurve, ...] = ()  # accuracy vs thinking budget (report.thinking_budget)
    diffs: tuple[PairDiff, ...] = ()  # lmaudit diff of each task's pairs of models
    scaling: ScalingSection | None = None  # scaling sweeps (`lmaudit scaling`)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.model for c in self.cards))

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.task for c in self.cards))

    def card(self, model: str, task: str) -> TrustCard:
        for card in self.cards:
            if card.model == model and card.task == task:
                return card
        raise KeyError((model, task))
