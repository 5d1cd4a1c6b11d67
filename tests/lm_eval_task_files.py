"""Small lm-evaluation-harness task files over local data, for the lm-eval task tests."""

from __future__ import annotations

import json
from pathlib import Path

QUIZ = [
    {"q": "What colour is the sky?", "options": ["blue", "green", "red"], "label": 0,
     "topic": "nature"},
    {"q": "Which number is even?", "options": ["3", "8", "11"], "label": 1, "topic": "math"},
    {"q": "Capital of Italy?", "options": ["Paris", "Oslo", "Rome"], "label": 2,
     "topic": "geo"},
    {"q": "Which is a fruit?", "options": ["apple", "chair", "lamp"], "label": 0,
     "topic": "food"},
    {"q": "Which animal barks?", "options": ["cat", "dog", "cow"], "label": 1,
     "topic": "nature"},
    {"q": "What do bees make?", "options": ["milk", "wool", "honey"], "label": 2,
     "topic": "nature"},
]
SUMS = [{"question": f"What is {a} + {b}?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}
        for a, b in [(1, 2), (3, 4), (10, 5), (7, 7), (2, 9), (6, 1)]]

MC_YAML = """\
include: _base.yaml
task: quiz_mc
output_type: multiple_choice
doc_to_text: "{{{{topic | upper}}}}: {{{{q.strip()}}}}\\nAnswer:"
doc_to_choice: options
doc_to_target: label
num_fewshot: {shots}
metric_list:
  - metric: acc
  - metric: acc_norm
"""
BASE_YAML = """\
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
description: "Answer the question.\\n\\n"
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
"""
GEN_YAML = """\
task: sums_gen
dataset_path: json
dataset_kwargs:
  data_files:
    train: {data}
    test: {data}
training_split: train
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
num_fewshot: {shots}
generation_kwargs:
  until: ["Question:", "\\n\\n"]
  do_sample: false
  max_gen_toks: 32
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: [",", "\\\\$"]
"""

LL_YAML = """\
task: sums_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
fewshot_split: test
output_type: loglikelihood
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
num_fewshot: {shots}
metric_list:
  - metric: perplexity
  - metric: acc
"""


def write_tasks(root: Path, shots: int = 0) -> dict[str, Path]:
    """quiz_mc.yaml (includes _base.yaml), sums_gen.yaml and sums_ll.yaml (loglikelihood)
    with their data under root."""
    root.mkdir(parents=True, exist_ok=True)
    quiz, sums = root / "quiz.jsonl", root / "sums.jsonl"
    quiz.write_text("".join(json.dumps(r) + "\n" for r in QUIZ))
    sums.write_text("".join(json.dumps(r) + "\n" for r in SUMS))
    (root / "_base.yaml").write_text(BASE_YAML.format(data=quiz))
    (root / "quiz_mc.yaml").write_text(MC_YAML.format(shots=shots))
    (root / "sums_gen.yaml").write_text(GEN_YAML.format(data=sums, shots=shots))
    (root / "sums_ll.yaml").write_text(LL_YAML.format(data=sums, shots=shots))
    return {"quiz_mc": root / "quiz_mc.yaml", "sums_gen": root / "sums_gen.yaml",
            "sums_ll": root / "sums_ll.yaml"}
