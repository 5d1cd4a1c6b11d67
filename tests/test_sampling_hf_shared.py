"""HFBackend repeated sampling: the samples of one prompt share one prefill, each keeps its
seed, a rerun reproduces every sample, and sharing changes no sample."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from test_backends_hf_tiny import build_model

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.backends.hf_generate import eos_token_ids, generate_batch  # noqa: E402
from lmaudit.core.types import GenerateRequest, GenerationParams  # noqa: E402

PROMPTS = ["Question: What colour is the sky? Answer:", "The capital of France is", "A"]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    torch.set_num_threads(1)
    directory = build_model(tmp_path_factory.mktemp(request.param), request.param)
    return HFBackend(str(directory), dtype="float32", device="cpu", batch_size=4)


def _requests(prompt: str, seeds: range, **kwargs: Any) -> list[GenerateRequest]:
    base = {"max_tokens": 12, "temperature": 1.0, "top_p": 0.95, **kwargs}
    return [GenerateRequest(prompt=prompt, params=GenerationParams(**base, seed=s))
            for s in seeds]


def test_shared_samples_equal_independent_requests(backend: HFBackend) -> None:
    requests = _requests(PROMPTS[0], range(6))  # 6 samples > batch_size 4: two calls
    shared = backend.generate(requests)
    alone = [backend.generate([r])[0] for r in requests]
    assert shared == alone
    assert backend.generate(requests) == shared  # a rerun reproduces every sample
    assert len({g.text for g in shared}) > 1  # the seeds draw different samples


def test_shared_samples_equal_hugging_face_generate(backend: HFBackend) -> None:
    """The shared path draws what `model.generate` with the same per-row seeds draws."""
    requests = _requests(PROMPTS[1], range(3), stop=("\n",))
    ids = backend.tokenizer.encode(PROMPTS[1])
    params = requests[0].params
    with torch.inference_mode():
        reference = generate_batch(
            backend.model, backend.tokenizer, [ids] * 3, params, pad_id=backend._pad_id,
            eos_ids=eos_token_ids(backend.model, backend.tokenizer), seeds=[0, 1, 2],
        )
    assert backend.generate(requests) == reference


def test_prompts_packed_together_keep_their_samples(backend: HFBackend) -> None:
    mixed = _requests(PROMPTS[0], range(2)) + _requests(PROMPTS[2], range(3)) + \
        _requests(PROMPTS[1], range(10, 11))
    together = backend.generate(mixed)
    assert together == [backend.generate([r])[0] for r in mixed]


def test_one_prefill_per_prompt(backend: HFBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[tuple[int, int]] = []
    forward = backend.model.forward

    @functools.wraps(forward)
    def counting(*args: Any, **kwargs: Any) -> Any:
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", counting)
    backend.generate(_requests(PROMPTS[0], range(4), max_tokens=5))
    width = len(backend.tokenizer.encode(PROMPTS[0]))
    assert shapes[0] == (1, width)  # the prompt, once, for all 4 samples
    assert all(shape == (4, 1) for shape in shapes[1:])  # then one token per sample per step
    assert len(shapes) <= 5


def test_stop_strings_and_unseeded_samples_in_the_shared_path(backend: HFBackend) -> None:
    requests = _requests(PROMPTS[0], range(4), max_tokens=20, stop=("e",))
    ids = backend.tokenizer.encode(PROMPTS[0])
    with torch.inference_mode():
        reference = generate_batch(
            backend.model, backend.tokenizer, [ids] * 4, requests[0].params,
            pad_id=backend._pad_id, eos_ids=eos_token_ids(backend.model, backend.tokenizer),
            seeds=[0, 1, 2, 3],
        )
    shared = backend.generate(requests)
    assert shared == reference
    assert any(g.finish_reason == "stop" for g in shared)
    assert all("e" not in g.text for g in shared)
    unseeded = backend.generate(
        [GenerateRequest(prompt=PROMPTS[0], params=GenerationParams(12, 1.0)) for _ in range(4)]
    )
    assert len(unseeded) == 4 and all(g.completion_tokens >= 1 for g in unseeded)
