"""Safety tasks: refusal of harmful requests and over-refusal of safe look-alikes.

Tasks `advbench`, `harmbench`, `hex_phi`, `xstest` (formats and sources in
`lmaudit.tasks.safety_data`; lmaudit ships no harmful prompt: data comes from the hub ids
named there or `--task-option data=PATH`) and `safety_lab` (`lmaudit.tasks.safety_lab`).
The model answers each prompt (greedy; `chat=1`, the default for the public sets, sends it
as one user message). Every reply is classified by the refusal-phrase matcher
(`lmaudit.scoring.refusal`; `refusal_phrases=FILE` adds phrases, one a line) and, with
`judge=MODEL_SPEC`, by the LLM judge (`lmaudit.tasks.safety_judge`); a reasoning model's
thinking (`think_tags`, default `<think>,</think>`) is removed first, so only the final
answer is classified (an untagged reply as written). Metrics, their
definitions and the classifiers' agreement (`classifier_kappa`): `lmaudit.tasks.safety_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmaudit.core.backend import Backend
from lmaudit.core.task import MetricSpec, Task
from lmaudit.core.types import (
    Generation,
    GenerationParams,
    LmauditError,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.data.source import DataSource
from lmaudit.data.textio import read_text
from lmaudit.scoring.refusal import RefusalMatcher
from lmaudit.scoring.thinking import DEFAULT_TAGS, split_thinking
from lmaudit.tasks import safety_data
from lmaudit.tasks.generic import _BaseTask, single_turn_request
from lmaudit.tasks.registry import TaskOptions, register_task, think_tags_help
from lmaudit.tasks.safety_judge import JUDGE_PROMPT, JUDGE_VERSION, SafetyJudgment, ask_judge
from lmaudit.tasks.safety_metrics import HARMFUL, metric_specs, sample_metrics

if TYPE_CHECKING:
    from lmaudit.core.served_cache import ServedCache

TASK_VERSION = "safety-v1"
DEFAULT_MAX_TOKENS = 256


class SafetyTask(_BaseTask):
    """Replies to labelled prompts, classified by phrase matcher and optional judge.

    A sample's metadata holds `label` (harmful / safe), optionally `cluster` and, for the
    lab's restricted requests, `secret` (the string whose presence in a reply is a leak).
    """

    task_type = "generate"

    def __init__(self, name: str, load: Callable[[], list[Sample]], *,
                 judge: str | Backend | None, matcher: RefusalMatcher, chat: bool,
                 max_tokens: int, config: dict[str, Any], stop: Sequence[str] = (),
                 data_spec: Any = None, judge_cache: bool = True, lab: bool = False,
                 think_tags: tuple[str, str] | None = DEFAULT_TAGS) -> None:
        super().__init__(name, load, config=config, data_spec=data_spec)
        self._judge = judge
        self.matcher = matcher
        self.chat = chat
        self.max_tokens = max_tokens
        self.stop = tuple(stop)
        self.judge_cache = judge_cache
        self._judge_served: ServedCache | None = None  # bound on the first judgment
        self.lab = lab
        self.think_tags = think_tags

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return metric_specs(judged=self._judge is not None, lab=self.lab)

    def card_metrics(self) -> list[str]:
        """Shown under the headline (`refusal_rate`) on the report's card, when reported."""
        return ["over_refusal_rate", "harmful_output_rate", "propensity_comply_rate",
                "capability_harmful_given_comply", "leak_rate", "classifier_kappa"]

    def notes(self) -> list[str]:
        """Caveats the report prints beside the scores."""
        notes = ["refusal_rate / attack_success_rate come from a refusal-phrase matcher: "
                 "refusals worded otherwise are missed"]
        if self._judge is None:
            notes.append("no judge: add --task-option judge=MODEL_SPEC for the harmful-output "
                         "rate, propensity vs capability and the classifiers' agreement")
        else:
            notes.append("propensity_comply_rate (does it try?) and "
                         "capability_harmful_given_comply (can it, once it tries?) are "
                         "reported apart; harmful_output_rate is their product (unless the judge "
                         "labels a full refusal harmful)")
        return notes

    def _type_spec(self) -> dict[str, Any]:
        judge = self._judge
        if judge is not None and not isinstance(judge, str):
            judge = judge.fingerprint.key()
        return {"version": TASK_VERSION, "matcher": self.matcher.version, "judge": judge,
                "judge_version": JUDGE_VERSION if judge else None,
                "judge_prompt": JUDGE_PROMPT if judge else None, "chat": self.chat,
                "max_tokens": self.max_tokens, "stop": list(self.stop),
                "think_tags": list(self.think_tags) if self.think_tags else None}

    def judge(self) -> Backend | None:
        """The judge backend (loaded on first use), None without a judge."""
        if isinstance(self._judge, str):
            from lmaudit.backends.registry import load_backend

            self._judge = load_backend(self._judge)
        return self._judge

    def requests(self, sample: Sample) -> list[Request]:
        params = GenerationParams(self.max_tokens, 0.0, stop=self.stop)
        return [single_turn_request(sample.input, params, chat=self.chat)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], Generation):
            raise ValueError(f"task {self.name}: expected one Generation")
        return self.score_many([(sample, responses[0].text)])[0]

    def score_many(self, items: Sequence[tuple[Sample, str]]) -> list[SampleRecord]:
        """Records for (sample, reply) pairs; the judge sees them in one batch."""
        answers = [self._final_answer(text) for _, text in items]
        judge = self.judge()
        judgments: list[SafetyJudgment | None] = [None] * len(items)
        if judge is not None:
            if self.judge_cache and self._judge_served is None:  # identified once, not per sample
                from lmaudit.core.served_cache import default_served_cache

                self._judge_served = default_served_cache(judge)
            judgments = list(ask_judge(judge, [(s.input, a) for (s, _), a in zip(
                items, answers, strict=True)], served=self._judge_served))
        return [self._record(sample, text, answer, judgment) for (sample, text), answer, judgment
                in zip(items, answers, judgments, strict=True)]

    def _final_answer(self, text: str) -> str:
        """The reply without its thinking segments (as written when it has no tag)."""
        split = split_thinking(text, self.think_tags)
        return split.answer if (split.thinking or split.unclosed) else text

    def score_stored(self, rows: Sequence[dict[str, Any]], *,
                     source: Path) -> list[SampleRecord]:
        """`lmaudit score`: stored replies joined by `id` or `prompt`
        (`lmaudit.tasks.stored.join_rows`), judged in one batch."""
        from lmaudit.tasks.stored import join_rows

        return self.score_many(join_rows(self.samples(), rows, source=source))

    def _record(self, sample: Sample, text: str, answer: str,
                judgment: SafetyJudgment | None) -> SampleRecord:
        label = str(sample.metadata.get("label", HARMFUL))
        phrase = self.matcher(answer)
        metrics = sample_metrics(label, phrase, judgment)
        secret = sample.metadata.get("secret")
        if self.lab and label == HARMFUL and secret:
            leaked = float(str(secret) in answer)
            metrics["leak_rate"] = leaked
            if not phrase.refused:
                metrics["capability_leak_given_comply"] = leaked
        extra: dict[str, Any] = {"label": label, "refusal_phrase": phrase.phrase}
        if answer != text:
            extra["classified_answer"] = answer
        if judgment is not None:
            extra.update(judge_reply=judgment.reply, judge_response_type=judgment.response_type,
                         judge_harmful=judgment.harmful)
        return SampleRecord(
            sample_id=sample.id, prompt=sample.input, target=label, response=text,
            extracted="refused" if phrase.refused else "answered", metrics=metrics,
            cluster=sample.cluster, extra=extra)


def read_phrases(path: str | None) -> list[str]:
    """Extra refusal phrases from a file, one a line (blank lines and `#` lines skipped)."""
    if not path:
        return []
    lines = read_text(Path(path)).splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


COMMON_OPTIONS = {
    "judge": "the LLM judge, any model spec (default none: phrase matcher only)",
    "chat": "1 (default) to send the prompt as one user chat message; 0 plain prompt",
    "max_tokens": f"new tokens per reply (default {DEFAULT_MAX_TOKENS})",
    "refusal_phrases": "file of extra refusal phrases, one a line",
    "judge_cache": "true (default): judgments go through the request cache; false",
    "think_tags": think_tags_help("classifying"),
}


def build_safety_task(name: str, opts: TaskOptions, load: Callable[[], list[Sample]],
                      data_spec: Any, *, chat_default: str = "1", lab: bool = False,
                      stop: Sequence[str] = (), max_tokens: int = DEFAULT_MAX_TOKENS,
                      extra_phrases: Sequence[str] = ()) -> SafetyTask:
    """A `SafetyTask` from the options in `COMMON_OPTIONS` (shared by every safety task)."""
    phrases = list(extra_phrases) + read_phrases(opts.text("refusal_phrases"))
    think_tags = opts.think_tags()
    return SafetyTask(
        name, load, judge=opts.text("judge") or None, matcher=RefusalMatcher(phrases),
        chat=opts.choice("chat", chat_default, ("0", "1")) == "1",
        max_tokens=opts.integer("max_tokens", max_tokens, minimum=1),
        config={"task_version": TASK_VERSION, "options": opts.spec()}, stop=stop,
        data_spec=data_spec, lab=lab, think_tags=think_tags,
        judge_cache=opts.choice("judge_cache", "true", ("true", "false")) == "true")


def _tabular_task(name: str, options: dict[str, str],
                  to_samples: Callable[[list[dict[str, Any]], str], list[Sample]],
                  extra: dict[str, str] | None = None) -> tuple[TaskOptions, SafetyTask]:
    hub, config, split = safety_data.HUB_IDS[name]
    opts = TaskOptions(name, options, {
        "data": f"local file (CSV, JSONL, ...) in the published format; default the hub "
        f"dataset {hub}", "split": f"hub split (default {split})", **COMMON_OPTIONS,
        **(extra or {})})
    data = opts.text("data")
    source = DataSource(data, None) if data else DataSource(
        hub, opts.text("split", split), opts.text("config", config))

    def load() -> list[Sample]:
        return to_samples(source.rows(), f"task {name}: {source.label()}")

    task = build_safety_task(name, opts, load,
                             lambda full: {"eval": source.describe(hash_files=full)})
    return opts, task


@register_task("advbench", "AdvBench harmful behaviours (walledai/AdvBench or the CSV): "
               "refusal and attack success rates", task_type="generate")
def advbench(**options: str) -> Task:
    """AdvBench (`lmaudit.tasks.safety_data`)."""
    return _tabular_task("advbench", options, safety_data.advbench_samples)[1]


@register_task("harmbench", "HarmBench behaviours (walledai/HarmBench or the behaviors CSV): "
               "refusal, harmful-output rate with a judge", task_type="generate")
def harmbench(**options: str) -> Task:
    """HarmBench; option `functional` (comma list, default standard,contextual)."""
    holder: dict[str, Any] = {}

    def to_samples(rows: list[dict[str, Any]], where: str) -> list[Sample]:
        return safety_data.harmbench_samples(rows, where, holder["functional"],
                                             holder["hub_config"])

    opts, task = _tabular_task("harmbench", options, to_samples, {
        "functional": "functional categories to keep, comma-separated (default "
        "standard,contextual; also copyright)",
        "config": "hub config of walledai/HarmBench: standard (default), contextual or "
        "copyright"})
    holder["functional"] = tuple(x.strip() for x in (
        opts.text("functional", "standard,contextual") or "").split(",") if x.strip())
    safety_data.harmbench_samples([], "check", holder["functional"])  # fail early on typos
    holder["hub_config"] = None if opts.text("data") else opts.text("config", "standard")
    return task


@register_task("xstest", "XSTest safe prompts and unsafe contrasts (walledai/XSTest or the "
               "CSV): over-refusal and refusal", task_type="generate")
def xstest(**options: str) -> Task:
    """XSTest (`lmaudit.tasks.safety_data`)."""
    return _tabular_task("xstest", options, safety_data.xstest_samples)[1]


@register_task("hex_phi", "HEx-PHI harmful instructions in 11 categories (gated "
               "LLM-Tuning-Safety/HEx-PHI; data=FOLDER)", task_type="generate")
def hex_phi(**options: str) -> Task:
    """HEx-PHI from a local folder of `category_<k>.csv` files or one such file."""
    opts = TaskOptions("hex_phi", options, {
        "data": f"folder of category_<k>.csv files (or one file), downloaded from the gated "
        f"hub repository {safety_data.HEX_PHI_HUB}", **COMMON_OPTIONS})
    data = opts.text("data")
    if not data:
        raise LmauditError(f"task hex_phi: needs --task-option data=FOLDER: the category_<k>.csv "
                           f"files of the gated hub repository {safety_data.HEX_PHI_HUB}")
    path = Path(data)
    if not path.exists():
        raise LmauditError(f"task hex_phi: {path} does not exist")
    return build_safety_task("hex_phi", opts, lambda: safety_data.hex_phi_samples(path),
                             lambda full: {"eval": {"path": str(path.resolve())}})
