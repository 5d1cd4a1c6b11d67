"""`lmaudit import lm-eval`: logs in the exact shape lm-evaluation-harness 0.4.13 writes
(`--output_path` + `--log_samples`) become run directories that reproduce lm-eval's
reported metrics and work with compare and diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.store import load_run
from lmaudit.core.types import LmauditError
from lmaudit.interop.lm_eval_log import read_lm_eval_dir

DATE = "2026-12-06T06-16-54.771714"
BENCH = Path(__file__).resolve().parents[1] / "bench" / "out" / "mc_loglikelihood"
# (question, choices, label, per-choice log-likelihoods, whether the right choice wins)
MC = [(f"Question {i}?\nAnswer:", ["red", "green blue", "x"], i % 3,
       [-1.5 - (i % 2), -0.25 * (i + 1), -3.0]) for i in range(7)]
GEN = [("2+2", "4", "The answer is 4.", "4"), ("3+3", "6", "It is 7", "7"),
       ("5+1", "6", "6", "6"), ("1+1", "2", "two", "[invalid]")]


def _mc_line(doc_id: int, question: str, choices: list[str], label: int,
             lls: list[float]) -> dict[str, object]:
    acc = float(max(range(len(lls)), key=lambda i: lls[i]) == label)
    return {
        "doc_id": doc_id, "doc": {"q": question, "choices": choices, "label": label},
        "target": str(label),
        "arguments": {f"gen_args_{i}": {"arg_0": question, "arg_1": " " + c}
                      for i, c in enumerate(choices)},
        "resps": [[[str(ll), "False"]] for ll in lls],
        "filtered_resps": [[str(ll), "False"] for ll in lls],
        "filter": "none", "metrics": ["acc"], "doc_hash": "d", "prompt_hash": "p",
        "target_hash": "t", "acc": acc,
    }


def _gen_lines(doc_id: int, question: str, target: str, raw: str, flexible: str
               ) -> list[dict[str, object]]:
    lines = []
    for name, answer in (("strict-match", raw if raw == target else "[invalid]"),
                         ("flexible-extract", flexible)):
        lines.append({
            "doc_id": doc_id, "doc": {"question": question, "answer": target},
            "target": target,
            "arguments": {"gen_args_0": {"arg_0": f"Q: {question}\nA:",
                                         "arg_1": {"until": ["\n"], "do_sample": False}}},
            "resps": [[raw]], "filtered_resps": [answer], "filter": name,
            "metrics": ["exact_match"], "doc_hash": "d", "prompt_hash": "p",
            "target_hash": "t", "exact_match": float(answer == target),
        })
    return lines


def write_log(root: Path) -> Path:
    """An lm-eval output directory: one results file, a multiple-choice and a generation
    task (two filters), shaped as lm-eval 0.4.13 writes them."""
    folder = root / "__models__tiny"
    folder.mkdir(parents=True)
    mc = [_mc_line(i, q, c, label, lls) for i, (q, c, label, lls) in enumerate(MC)]
    gen = [line for i, g in enumerate(GEN) for line in _gen_lines(i, *g)]
    for task, lines in (("quiz_mc", mc), ("quiz_gen", gen)):
        with (folder / f"samples_{task}_{DATE}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(line) + "\n" for line in lines)
    mc_acc = sum(float(str(line["acc"])) for line in mc) / len(mc)
    strict = sum(float(str(line["exact_match"])) for line in gen[0::2]) / len(GEN)
    flex = sum(float(str(line["exact_match"])) for line in gen[1::2]) / len(GEN)
    results = {
        "results": {
            "quiz_mc": {"alias": "quiz_mc", "acc,none": mc_acc, "acc_stderr,none": 0.1},
            "quiz_gen": {"alias": "quiz_gen", "exact_match,strict-match": strict,
                         "exact_match_stderr,strict-match": 0.2,
                         "exact_match,flexible-extract": flex,
                         "exact_match_stderr,flexible-extract": 0.2},
        },
        "configs": {"quiz_mc": {"task": "quiz_mc", "output_type": "multiple_choice",
                                "target_delimiter": " "},
                    "quiz_gen": {"task": "quiz_gen", "output_type": "generate_until",
                                 "target_delimiter": " "}},
        "n-samples": {"quiz_mc": {"original": 7, "effective": 7},
                      "quiz_gen": {"original": 4, "effective": 4}},
        "config": {"model": "hf", "model_args": {"pretrained": "tiny"}},
        "model_name": "tiny",
    }
    (folder / f"results_{DATE}.json").write_text(json.dumps(results))
    return root


def test_import_reproduces_reported_metrics(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "lm-eval")
    out = tmp_path / "runs"
    assert main(["import", "lm-eval", str(log), "--out", str(out)]) == 0
    assert "MISMATCH" not in capsys.readouterr().out
    mc = load_run(out / "quiz_mc")
    metric = mc.results["metrics"]["acc"]
    assert metric["value"] == metric["reported_value"] == 3 / 7
    assert metric["ci_low"] < metric["value"] < metric["ci_high"]
    first = mc.samples.iloc[0]
    assert (first["target"], first["response"], first["extracted"]) == ("red", "green blue", "1")
    assert list(first["choice_logprobs"]) == [-1.5, -0.25, -3.0]
    assert mc.manifest["kind"] == "import" and mc.manifest["model_spec"] == "lm-eval:hf:tiny"
    gen = load_run(out / "quiz_gen")
    metrics = gen.results["metrics"]
    assert metrics["exact_match,strict-match"]["value"] == 0.25
    assert metrics["exact_match,flexible-extract"]["value"] == 0.5
    assert all(m["matches_reported"] for m in metrics.values())
    row = gen.samples.iloc[1]
    assert (row["prompt"], row["response"], row["extracted"]) == ("Q: 3+3\nA:", "It is 7",
                                                                  "[invalid]")
    assert json.loads(row["extra"])["filtered"]["flexible-extract"] == "7"
    # the imported run works with compare, diff and report
    assert main(["compare", str(out / "quiz_mc"), str(out / "quiz_mc")]) == 0
    assert main(["diff", str(out / "quiz_gen"), str(out / "quiz_gen")]) == 0
    assert main(["report", str(out / "quiz_mc"), str(out / "quiz_gen"),
                 "--out", str(tmp_path / "report.html")]) == 0
    assert "quiz_gen" in (tmp_path / "report.html").read_text()


def test_a_tampered_value_is_reported_not_hidden(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "lm-eval")
    results = next(log.rglob("results_*.json"))
    payload = json.loads(results.read_text())
    payload["results"]["quiz_mc"]["acc,none"] = 0.5
    results.write_text(json.dumps(payload))
    assert main(["import", "lm-eval", str(log), "--out", str(tmp_path / "r")]) == 1
    assert "MISMATCH acc: lmaudit 0.42857142857142855 vs lm-eval 0.5" in capsys.readouterr().out


def test_missing_pieces_are_named(tmp_path: Path) -> None:
    log = write_log(tmp_path / "lm-eval")
    next(log.rglob("samples_quiz_gen_*.jsonl")).unlink()
    with pytest.raises(LmauditError, match=r"samples_quiz_gen_.*missing: .*--log_samples"):
        read_lm_eval_dir(log)
    samples = next(log.rglob("samples_quiz_mc_*.jsonl"))
    line = json.loads(samples.read_text().splitlines()[0])
    del line["filtered_resps"], line["acc"]
    samples.write_text(json.dumps(line) + "\n")
    with pytest.raises(LmauditError, match="line 1 lacks filtered_resps, acc"):
        read_lm_eval_dir(log)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LmauditError, match="holds no lm-eval results"):
        read_lm_eval_dir(empty)


@pytest.mark.skipif(not (BENCH / "lm_eval_results").is_dir(),
                    reason="no real lm-eval log: run bench/mc_loglikelihood.py first")
def test_real_lm_eval_log_matches_lm_eval_and_the_native_run(tmp_path: Path) -> None:
    from lmaudit.interop.diff import diff_runs

    assert main(["import", "lm-eval", str(BENCH / "lm_eval_results"),
                 "--out", str(tmp_path)]) == 0
    imported = load_run(tmp_path / "lmaudit_bench_mc")
    metric = imported.results["metrics"]["acc"]
    assert metric["value"] == metric["reported_value"]
    if (BENCH / "lmaudit_run" / "results.json").is_file():
        diff = diff_runs(load_run(BENCH / "lmaudit_run"), imported, "acc")
        assert diff.n_aligned == len(imported.samples) and diff.samples == ()
        assert diff.same_score_differences == ()  # log-likelihoods agree within 1e-4


def test_rolling_loglikelihood_pairs_become_perplexity_ratios(tmp_path: Path) -> None:
    import math

    folder = tmp_path / "lm-eval" / "m"
    folder.mkdir(parents=True)
    docs = [("alpha beta gamma delta epsilon", -10.0, 20), ("one two three four five", -20.0, 30)]
    with (folder / f"samples_wiki_{DATE}.jsonl").open("w") as handle:
        for i, (text, ll, n_bytes) in enumerate(docs):
            handle.write(json.dumps({
                "doc_id": i, "doc": {"page": text}, "target": text,
                "arguments": {"gen_args_0": {"arg_0": text}}, "resps": [[str(ll)]],
                "filtered_resps": [str(ll)], "filter": "none",
                "metrics": ["word_perplexity", "byte_perplexity", "bits_per_byte"],
                "word_perplexity": [ll, 5], "byte_perplexity": [ll, n_bytes],
                "bits_per_byte": [ll, n_bytes]}) + "\n")
    reported = {"word_perplexity,none": math.exp(30 / 10),
                "byte_perplexity,none": math.exp(30 / 50),
                "bits_per_byte,none": 30 / 50 / math.log(2)}
    (folder / f"results_{DATE}.json").write_text(json.dumps({
        "results": {"wiki": reported},
        "configs": {"wiki": {"task": "wiki", "output_type": "loglikelihood_rolling"}},
        "config": {"model": "hf", "model_args": "pretrained=tiny"}}))
    assert main(["import", "lm-eval", str(tmp_path / "lm-eval"),
                 "--out", str(tmp_path / "runs")]) == 0
    metrics = load_run(tmp_path / "runs" / "wiki").results["metrics"]
    for name in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert metrics[name]["matches_reported"], name
        assert metrics[name]["value"] == pytest.approx(reported[f"{name},none"], rel=1e-12)
    assert load_run(tmp_path / "runs" / "wiki").results["not_imported"] == []
