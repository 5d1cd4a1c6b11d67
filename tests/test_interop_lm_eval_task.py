"""`--task lm-eval:FILE.yaml`: lm-eval task files render the prompts lm-eval renders,
score generations through lm-eval's filters and exact_match, and run code hooks only when
trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from lm_eval_task_files import write_tasks
from lmaudit.core.types import LmauditError
from lmaudit.interop.lm_eval_filter_steps import regex_filter
from lmaudit.tasks.registry import load_task


def test_multiple_choice_prompts_and_choices(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    task = load_task(f"lm-eval:{files['quiz_mc']}")
    assert task.name == "quiz_mc"
    samples = task.samples()
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4", "5"]
    first = samples[0]
    assert first.input == "Answer the question.\n\nNATURE: What colour is the sky?\nAnswer:"
    assert first.choices == ("blue", "green", "red") and first.target == 0
    requests = task.requests(first)
    assert [r.continuation for r in requests] == [" blue", " green", " red"]  # type: ignore[union-attr]


def test_fewshot_examples_follow_lm_evals_sampler(tmp_path: Path) -> None:
    files = write_tasks(tmp_path, shots=2)
    samples = load_task(f"lm-eval:{files['quiz_mc']}").samples()
    # lm-eval drops a document from its own examples only when fewshot_split == test_split
    # (here fewshot_split is unset: the pool is the test split, self included)
    own = [s for s in samples if s.input.count(s.input.split("\n\n")[-1]) > 1]
    assert own, "with this seed some document shows itself (as lm-eval does)"
    with files["quiz_mc"].open("a") as handle:
        handle.write("fewshot_split: test\n")
    for sample in load_task(f"lm-eval:{files['quiz_mc']}").samples():
        shots = sample.input.removeprefix("Answer the question.\n\n").split("\n\n")
        assert len(shots) == 3 and all(" " in s for s in shots[:2])
        assert not any(shot.startswith(shots[2]) for shot in shots[:2])
    files["quiz_mc"].write_text(files["quiz_mc"].read_text().replace("fewshot_split: test\n", ""))
    again = load_task(f"lm-eval:{files['quiz_mc']}", {"fewshot_seed": "1234"}).samples()
    other = load_task(f"lm-eval:{files['quiz_mc']}", {"fewshot_seed": "7"}).samples()
    assert [s.input for s in again] == [s.input for s in samples]
    assert [s.input for s in other] != [s.input for s in samples]


def test_limit_keeps_the_first_documents_and_their_fewshot_examples(tmp_path: Path) -> None:
    # as lm-eval's --limit: the first n documents, their examples drawn from the whole split
    files = write_tasks(tmp_path, shots=2)
    with files["quiz_mc"].open("a") as handle:
        handle.write("fewshot_split: test\n")
    whole = load_task(f"lm-eval:{files['quiz_mc']}").samples()
    first = load_task(f"lm-eval:{files['quiz_mc']}", {"limit": "3"}).samples()
    assert len(whole) > 3 and [s.id for s in first] == ["0", "1", "2"]
    assert [(s.input, s.target) for s in first] == [(s.input, s.target) for s in whole[:3]]
    later = [s.input.split("\n\n")[-1] for s in whole[3:]]  # the questions cut off
    assert any(q in shot for s in first for shot in s.input.split("\n\n")[1:-1] for q in later)

def test_generation_filters_and_exact_match(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    task = load_task(f"lm-eval:{files['sums_gen']}")
    sample = task.samples()[2]
    assert sample.input == "Question: What is 10 + 5?\nAnswer:" and sample.target == "15"
    request = task.requests(sample)[0]
    assert request.params.stop == ("Question:", "\n\n")  # type: ignore[union-attr]
    assert request.params.max_tokens == 32  # type: ignore[union-attr]
    scorer = task.scorer  # type: ignore[attr-defined]
    outcome = scorer("10 + 5 = 15 so #### 15", "15")
    assert outcome.metrics == {"exact_match,strict-match": 1.0,
                               "exact_match,flexible-extract": 1.0}
    outcome = scorer("It is $1,5 or maybe 15", "15")
    assert outcome.extracted == "[invalid]"
    assert outcome.metrics == {"exact_match,strict-match": 0.0,
                               "exact_match,flexible-extract": 1.0}


def test_other_builtin_filters() -> None:
    from lmaudit.interop.lm_eval_filter_steps import build_filter

    assert build_filter({"function": "remove_whitespace"})(["  B \n"], {}) == ["B"]
    mapping = build_filter({"function": "map", "mapping_dict": {"A": 0, "B": 1},
                            "default_value": -1})
    assert mapping(["B", "Z"], {}) == [1, -1]
    with pytest.raises(LmauditError, match="filter 'arg_max' is not supported yet"):
        build_filter({"function": "arg_max"})


def test_regex_filter_semantics() -> None:
    assert regex_filter()("#### 1,234 and #### 5") == "1,234"
    assert regex_filter(r"(a)|(b)", group_select=-1)("xa yb") == "b"
    assert regex_filter(r"(z)")("nothing") == "[invalid]"


def test_function_hooks_need_trust(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    (tmp_path / "utils.py").write_text("def upper(doc):\n    return doc['q'].upper()\n")
    text = files["quiz_mc"].read_text().replace(
        'doc_to_text: "{{topic | upper}}: {{q.strip()}}\\nAnswer:"',
        "doc_to_text: !function utils.upper")
    files["quiz_mc"].write_text(text)
    with pytest.raises(LmauditError, match=r"doc_to_text is `!function utils.upper`.*"
                                           r"--trust-task-code"):
        load_task(f"lm-eval:{files['quiz_mc']}")
    task = load_task(f"lm-eval:{files['quiz_mc']}", {"trust_task_code": "yes"})
    assert task.samples()[0].input == "Answer the question.\n\nWHAT COLOUR IS THE SKY?"


def test_unsupported_pieces_are_one_clear_error(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    rolling = tmp_path / "rolling.yaml"
    rolling.write_text(files["sums_gen"].read_text().replace(
        "output_type: generate_until", "output_type: multiple_choice_matrix"))
    with pytest.raises(LmauditError, match="output_type 'multiple_choice_matrix' is not "):
        load_task(f"lm-eval:{rolling}")
    with pytest.raises(LmauditError, match="no such lm-eval task file"):
        load_task(f"lm-eval:{tmp_path / 'absent.yaml'}")
    with pytest.raises(LmauditError, match="unknown option 'shots'"):
        load_task(f"lm-eval:{files['quiz_mc']}", {"shots": "1"})


def test_rolling_loglikelihood_scores_the_target_text(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    rolling = tmp_path / "rolling.yaml"
    text = files["sums_gen"].read_text()
    text = text[:text.index("filter_list:")]  # exact_match and filters do not apply
    rolling.write_text(text.replace(
        "output_type: generate_until", "output_type: loglikelihood_rolling").replace(
        "doc_to_target: \"{{answer.split('####')[-1].strip()}}\"", "doc_to_target: answer"))
    task = load_task(f"lm-eval:{rolling}")
    assert task.samples()[0].input == "1 + 2 = 3\n#### 3"
    assert {m.name for m in task.metrics} >= {"word_perplexity", "bits_per_byte"}


def test_process_docs_hook_gets_a_dataset(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    (tmp_path / "hooks.py").write_text(
        "def shout(dataset):\n"
        "    return dataset.map(lambda d: {**d, 'q': d['q'].upper()})\n")
    with files["quiz_mc"].open("a") as handle:
        handle.write("process_docs: !function hooks.shout\n")
    with pytest.raises(LmauditError, match=r"process_docs is `!function hooks\.shout`"):
        load_task(f"lm-eval:{files['quiz_mc']}")
    task = load_task(f"lm-eval:{files['quiz_mc']}", {"trust_task_code": "yes"})
    assert task.samples()[0].input.endswith("NATURE: WHAT COLOUR IS THE SKY?\nAnswer:")


def test_loglikelihood_continuation(tmp_path: Path) -> None:
    from lmaudit.core.types import LoglikelihoodResult

    files = write_tasks(tmp_path)
    task = load_task(f"lm-eval:{files['sums_ll']}")
    sample = task.samples()[1]
    request = task.requests(sample)[0]
    assert (request.context, request.continuation) == (  # type: ignore[union-attr]
        "Question: What is 3 + 4?\nAnswer:", "7")  # lm-eval adds no target_delimiter
    record = task.score(sample, [LoglikelihoodResult(-2.0, True, 1)])
    assert record.metrics == {"acc": 1.0, "loglikelihood": -2.0, "nll": 2.0, "count": 1.0}
    assert [m.name for m in task.metrics] == ["perplexity", "acc"]  # metric_list order
