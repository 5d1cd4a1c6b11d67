"""HFBackend loading errors, fingerprint and protocol conformance."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from test_backends_hf_tiny import build_model

torch = pytest.importorskip("torch")

from lmaudit.backends.hf import HFBackend  # noqa: E402
from lmaudit.core.backend import Backend  # noqa: E402
from lmaudit.core.types import LmauditError, RequestKind  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("gpt2"), "gpt2", n_positions=64)


def test_backend_protocol_capabilities_and_max_length(model_dir: Path) -> None:
    backend = HFBackend(str(model_dir), dtype="float32", device="cpu")
    assert isinstance(backend, Backend)
    assert backend.capabilities == frozenset(RequestKind)
    assert backend.max_length == 64  # the model's n_positions
    assert backend.tokenizer.padding_side == "left"
    assert backend.tokenizer.pad_token_id is not None  # was missing, set to EOS


def test_fingerprint_hashes_local_weight_files(model_dir: Path) -> None:
    backend = HFBackend(str(model_dir), dtype="auto", device="cpu")
    digest = hashlib.sha256(b"model.safetensors\0")
    digest.update((model_dir / "model.safetensors").read_bytes())
    fingerprint = backend.fingerprint
    assert fingerprint.backend == "hf"
    assert fingerprint.model == str(model_dir.resolve())
    assert fingerprint.revision == digest.hexdigest()[:16]
    assert fingerprint.dtype == "float32"  # auto on CPU


def test_bfloat16_is_resolved_and_reported(model_dir: Path) -> None:
    backend = HFBackend(str(model_dir), dtype="bfloat16", device="cpu")
    assert backend.fingerprint.dtype == "bfloat16"
    assert next(backend.model.parameters()).dtype == torch.bfloat16


def test_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(LmauditError, match="no-such-model"):
        HFBackend(str(missing), device="cpu")


def test_directory_without_tokenizer_is_a_user_error(model_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dir / name, bare / name)
    with pytest.raises(LmauditError, match=r"bare.*tokenizer|tokenizer.*bare"):
        HFBackend(str(bare), device="cpu")


def test_unknown_hub_id_offline_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(LmauditError, match="lmaudit-test/does-not-exist") as caught:
        HFBackend("lmaudit-test/does-not-exist", device="cpu")
    assert "\n" not in str(caught.value)


def test_bad_options_are_user_errors(model_dir: Path) -> None:
    with pytest.raises(LmauditError, match="dtype"):
        HFBackend(str(model_dir), dtype="float8", device="cpu")
    with pytest.raises(LmauditError, match="batch_size"):
        HFBackend(str(model_dir), device="cpu", batch_size=0)
