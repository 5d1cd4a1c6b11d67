"""Chat template hash and BOS handling, recorded in a run's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmaudit.backends.prompt_format import describe_prompt_format, template_sha256
from lmaudit.core.runner import run_task
from lmaudit.core.types import GenerateRequest
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl


class FakeTokenizer:
    """Enough of a Hugging Face tokenizer: BOS id 1, words as ids, a template string."""

    def __init__(self, template: Any, *, adds_bos: bool, template_bos: bool) -> None:
        self.chat_template = template
        self.bos_token = "<s>"
        self.bos_token_id = 1
        self.adds_bos = adds_bos
        self.template_bos = template_bos

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = [len(word) + 10 for word in text.split()]
        return [1, *ids] if add_special_tokens and self.adds_bos else ids

    def apply_chat_template(self, turns: list[dict[str, str]], **_: Any) -> str:
        if self.chat_template == "broken":
            raise ValueError("roles must alternate")
        body = "".join(f"[{t['role']}]{t['content']}" for t in turns) + "[assistant]"
        return ("<s>" if self.template_bos else "") + body


def test_llama_style_tokenizer_with_a_template() -> None:
    record = describe_prompt_format(
        FakeTokenizer("{{ messages }}", adds_bos=True, template_bos=True), chat_template=True
    )
    assert record["chat_template_sha256"] == template_sha256("{{ messages }}")
    assert len(record["chat_template_sha256"]) == 64
    assert record["plain_prompt_bos"] == "tokenizer" and record["chat_bos"] == "template"
    assert record["chat_template_applied"] is True


def test_gpt2_style_tokenizer_without_template_and_a_broken_one() -> None:
    plain = describe_prompt_format(FakeTokenizer(None, adds_bos=False, template_bos=False),
                                   chat_template=False)
    assert plain["chat_template_sha256"] is None and plain["chat_bos"] is None
    assert plain["plain_prompt_bos"] == "none"
    broken = describe_prompt_format(FakeTokenizer("broken", adds_bos=False, template_bos=False),
                                    chat_template=False)
    assert broken["chat_bos"] == "unknown: ValueError"
    named = {"default": "a", "tool_use": "b"}
    assert template_sha256(named) == template_sha256({"tool_use": "b", "default": "a"})
    assert template_sha256("a") != template_sha256("b")


class FormatBackend(ScriptedBackend):
    @property
    def prompt_format(self) -> dict[str, Any]:
        return describe_prompt_format(FakeTokenizer("t", adds_bos=True, template_bos=False),
                                      chat_template=True)


def test_the_runner_records_the_prompt_format(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "problem": "1+1?", "answer": "2"}])
    task = load_task("aime24", {"data": str(data)})
    run_task(task, FormatBackend(lambda r: "\\boxed{2}"), tmp_path / "run", show_progress=False)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["prompt_format"]["chat_template_sha256"] == template_sha256("t")
    assert manifest["prompt_format"]["chat_bos"] == "none"


def test_a_real_tokenizer_with_a_chat_template_gets_one_bos() -> None:
    """A Hugging Face fast tokenizer (a tiny lab BPE) whose template writes BOS itself: the
    record says so, and multi-turn few-shot messages encode with exactly one BOS."""
    from lmaudit.backends.hf_tokens import TokenizerRules
    from lmaudit.core.types import Message
    from lmaudit.lab.tokenizer import train_byte_level_bpe

    tokenizer = train_byte_level_bpe(["the cat sat on the mat"] * 20, vocab_size=300)
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}"
        "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    record = describe_prompt_format(tokenizer, chat_template=False)
    assert record["chat_bos"] == "template" and record["plain_prompt_bos"] == "none"
    assert record["chat_template_sha256"] == template_sha256(tokenizer.chat_template)
    rules = TokenizerRules.of(tokenizer, name="tiny")
    turns = (Message("user", "1+1?"), Message("assistant", "2"), Message("user", "2+2?"))
    ids = rules.encode_prompt(GenerateRequest(messages=turns))
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids).endswith("<user>2+2?<assistant>")
