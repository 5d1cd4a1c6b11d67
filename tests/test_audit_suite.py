"""Audit suites: the built-in ones parse; a bad suite file fails up front naming file and key;
stage planning gives stable ids, directories and a model-grouped order."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmaudit.audit.plan import model_dirs, plan_stages
from lmaudit.audit.stages import check_stage_inputs
from lmaudit.audit.suite import builtin_suites, load_suite
from lmaudit.core.types import LmauditError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_suites_parse_with_their_references() -> None:
    assert {"demo", "reasoning", "knowledge", "instructions"} <= set(builtin_suites())
    demo = load_suite("demo")
    assert demo.path is None and len(demo.sha256) == 64
    arith = {t.id: t for t in demo.tasks}["arith"]
    assert [(p.name, p.variants) for p in arith.probes] == [
        ("symbolic+noop", ("symbolic", "noop"))]
    assert arith.likelihood is not None and arith.references.chance == 0.0
    knowledge = {t.id: t for t in load_suite("knowledge").tasks}
    assert knowledge["mmlu"].references.human == {"expert": 0.898, "non_expert": 0.345}
    assert {"mmlu_pro", "hellaswag", "truthfulqa_mc1", "truthfulqa_mc2"} <= set(knowledge)
    assert [t.task for t in load_suite("instructions").tasks] == ["ifeval", "humaneval", "mbpp"]
    gsm8k, *others = load_suite("reasoning").tasks
    assert [t.task for t in others] == ["math500", "aime24", "aime25", "gpqa_diamond"]
    assert gsm8k.task == "gsm8k" and gsm8k.probes[0].sets == 50
    assert gsm8k.probes[0].variants == ("symbolic", "p1", "p2", "noop", "noop_numeric")


def test_a_suite_file_with_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "ref.jsonl").write_text('{"text": "Question: 1+1?\\nAnswer: 2"}\n')
    path = _write(tmp_path, """
name: mine
tasks:
  quick:
    task: arith
    options: {fewshot: 2}
    limit: 5
    references: {chance: 0, human: 0.9}
    contamination:
      likelihood: {reference_file: ref.jsonl, k: 0.1}
    prompts:
      - {name: terse, template: "Q: {input}"}
""")
    suite = load_suite(path)
    task = suite.tasks[0]
    assert suite.name == "mine" and suite.path == path.resolve()
    assert task.task == "arith" and task.options == {"fewshot": "2"} and task.limit == 5
    assert task.references.human == {"human": 0.9}
    assert task.likelihood is not None
    assert task.likelihood.reference_file == str(tmp_path / "ref.jsonl")
    assert task.likelihood.k == 0.1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tasks:\n  arith:\n    probs: []\n", r"tasks\.arith\.probs: unknown key"),
        ("tasks:\n  arith:\n    probes: [{variants: [shuffle]}]\n",
         r"tasks\.arith\.probes\[0\]\.variants: unknown family 'shuffle'"),
        ("tasks:\n  nope: {}\n", r"tasks\.nope\.task: unknown task 'nope'"),
        ("tasks:\n  arith: {references: {chance: 4}}\n", r"tasks\.arith\.references\.chance"),
        ("tasks:\n  arith: {limit: 0}\n", r"tasks\.arith\.limit: expected an integer >= 1"),
        ("tasks:\n  arith: {probes: [{variants: [noop], sets: 500}]}\n", r"at most 100"),
        ("tasks:\n  arith: {prompts: [{name: p, template: 'no placeholder'}]}\n",
         r"prompts\[0\]\.template: must contain \{input\}"),
        ("tasks:\n  arith: {probes: [{variants: [noop]}, {variants: [noop]}]}\n",
         r"tasks\.arith\.probes: name 'noop' is used twice"),
        ("tasks:\n  arith: {contamination: {likelihood: {reference_file: gone.jsonl}}}\n",
         r"contamination\.likelihood\.reference_file: file .*gone\.jsonl does not exist"),
        ("tasks:\n  arith: {options: {data: '${LMAUDIT_SURELY_UNSET_VAR}'}}\n",
         r"tasks\.arith\.options\.data: environment variable LMAUDIT_SURELY_UNSET_VAR"),
        ("tasks: {}\n", "at least one task"),
        ("tasks: [arith]\n", "tasks: expected a mapping"),
        ("name: demo\ntasks:\n  arith: {}\nmodels: []\n", "models: unknown key"),
        ("tasks: {arith: {\n", "not valid YAML"),
    ],
)
def test_a_bad_suite_names_the_file_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(LmauditError, match=message) as error:
        load_suite(path)
    assert str(path) in str(error.value)


def test_an_unknown_suite_lists_the_built_in_ones() -> None:
    with pytest.raises(LmauditError, match=r"built-in: .*demo.*knowledge.*reasoning"):
        load_suite("no-such-suite")


def test_environment_variables_with_defaults(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    body = ("tasks:\n  arith:\n    probes:\n      - {variants: [symbolic], "
            "templates: '${AUDIT_T:-fallback}/symbolic'}\n")
    path = _write(tmp_path, body)
    monkeypatch.delenv("AUDIT_T", raising=False)
    assert load_suite(path).tasks[0].probes[0].templates == str(tmp_path / "fallback/symbolic")
    monkeypatch.setenv("AUDIT_T", "/data/gsm")
    assert load_suite(path).tasks[0].probes[0].templates == "/data/gsm/symbolic"


def test_missing_template_folder_is_reported_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMAUDIT_GSM_SYMBOLIC_DIR", str(tmp_path / "absent"))
    stages = plan_stages(load_suite("reasoning"), ["lab:x"])
    with pytest.raises(LmauditError, match=r"probe/lab:x/gsm8k/gsm-symbolic: template folder "
                       r".*absent does not exist.*LMAUDIT_GSM_SYMBOLIC_DIR"):
        check_stage_inputs(stages)


def test_stage_plan_ids_dirs_and_order() -> None:
    stages = plan_stages(load_suite("demo"), ["lab:demo-clean", "lab:demo-contaminated"],
                         limit=20)
    ids = [s.id for s in stages]
    assert ids[:5] == [
        "run/lab:demo-clean/arith",
        "probe/lab:demo-clean/arith/symbolic+noop",
        "contamination/lab:demo-clean/arith/likelihood",
        "run/lab:demo-clean/arith_mc",
        "probe/lab:demo-clean/arith_mc/symbolic",
    ]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert [s.model for s in stages] == ["lab:demo-clean"] * 5 + ["lab:demo-contaminated"] * 5
    by_id = {s.id: s for s in stages}
    assert by_id["run/lab:demo-clean/arith"].dir == "runs/demo-clean/arith"
    assert by_id["probe/lab:demo-contaminated/arith/symbolic+noop"].dir == \
        "probes/demo-contaminated/arith-symbolic+noop"
    assert by_id["contamination/lab:demo-clean/arith/likelihood"].variant == "likelihood"
    assert {s.limit for s in stages} == {20}


def test_plan_limits_prompts_scans_and_folder_names(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"text": "hello"}\n')
    path = _write(tmp_path, """
tasks:
  arith:
    limit: 10
    contamination: {scan: {corpus: [corpus.jsonl]}}
    prompts: [{name: p2, options: {fewshot: 1}}]
""")
    suite = load_suite(path)
    stages = plan_stages(suite, ["hf:org/m", "vllm:org/m"], limit=50)
    assert stages[0].id == "contamination/-/arith/scan" and stages[0].model is None
    assert stages[0].dir == "contamination-scan/arith"
    assert {s.limit for s in stages} == {10}
    dirs = [s.dir for s in stages if s.kind == "prompt_variant"]
    assert dirs == ["runs/hf_org_m/arith@p2", "runs/vllm_org_m/arith@p2"]
    assert model_dirs(["lab:a", "hf:b"]) == {"lab:a": "a", "hf:b": "b"}
    with pytest.raises(LmauditError, match="once"):
        plan_stages(suite, ["lab:a", "lab:a"])
    with pytest.raises(LmauditError, match="--limit"):
        plan_stages(suite, ["lab:a"], limit=0)


def test_corpus_globs_expand_and_an_empty_glob_is_an_error(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl"):
        (tmp_path / name).write_text('{"text": "x"}\n')
    path = _write(tmp_path, "tasks:\n  arith: {contamination: {scan: {corpus: ['*.jsonl']}}}\n")
    scan = load_suite(path).tasks[0].scan
    assert scan is not None
    assert scan.corpus == (str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"))
    path = _write(tmp_path, "tasks:\n  arith: {contamination: {scan: {corpus: ['*.zst']}}}\n")
    with pytest.raises(LmauditError, match=r"contamination\.scan\.corpus\[0\]: .* matches no"):
        load_suite(path)
