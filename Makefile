# Two set-up commands: `make demo` and `make test`. Both create .venv and install exactly the
# versions of requirements.lock (regenerate it with `make lock`).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
EXTRAS := hf,dev,semantic,ray,graders,app
# The installer: pinned, installed with pip into each environment.
UV := uv==0.13.9
# torch first and pinned: pip takes the CPU build; anything else would pull CUDA packages.
TORCH := torch==2.13.0
# The tests that exercise third-party model code, run by test-latest and test-oldest.
BACKEND_TESTS := tests/test_backends_hf_*.py tests/test_runner_scoring_path.py \
	tests/test_cli_quiet.py tests/test_vllm_backend.py tests/test_serve_echo.py \
	tests/test_sampling_hf_shared.py tests/test_generation_budget.py tests/test_prompt_format.py \
	tests/test_budget_forcing.py tests/test_budget_forcing_vllm.py tests/test_generation_logprobs.py \
	tests/test_scaling_token_greedy.py tests/test_verifier_reward.py tests/test_lab_finetune.py

.PHONY: demo test test-latest test-oldest lint lock clean install browser

$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH) $(UV)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m lmaudit.demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q tests

# Headless Chromium for the report's browser tests (Debian packages); without root or apt
# those tests skip with one line saying so.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "could not install chromium: the browser tests will skip"; \
	else echo "chromium not installed and not root: the browser tests will skip"; fi

# Regenerate the lock: the newest versions pyproject.toml allows, resolved in a scratch
# environment, every installed package pinned (lmaudit itself excepted).
lock:
	rm -rf .venv-lock && $(PY) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet $(TORCH) $(UV)
	.venv-lock/bin/uv pip install --quiet --python .venv-lock/bin/python '.[$(EXTRAS)]'
	{ echo "# Exact versions installed by make demo and make test. Regenerate: make lock."; \
	  echo "# $(TORCH) (CPU build) is installed first by pip, then these with --no-deps."; \
	  .venv-lock/bin/uv pip freeze --python .venv-lock/bin/python --exclude-editable \
	    | grep -vE '^(lmaudit|pip|uv)==' | sed -e 's/+cpu$$//'; } > $(LOCK)
	rm -rf .venv-lock

# The backend tests against the newest versions pyproject.toml allows (no lock).
test-latest:
	rm -rf .venv-latest && $(PY) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet $(TORCH) $(UV)
	.venv-latest/bin/uv pip install --quiet --python .venv-latest/bin/python --upgrade -e '.[hf,dev,graders]'
	.venv-latest/bin/python -c 'import transformers; print("transformers", transformers.__version__)'
	.venv-latest/bin/python -m pytest -q $(BACKEND_TESTS)

# The backend tests against the oldest versions pyproject.toml allows for direct dependencies.
test-oldest:
	rm -rf .venv-oldest && $(PY) -m venv .venv-oldest
	.venv-oldest/bin/pip install --quiet $(TORCH) $(UV)
	.venv-oldest/bin/uv pip install --quiet --python .venv-oldest/bin/python \
		--resolution lowest-direct -e '.[hf,dev,graders]'
	.venv-oldest/bin/python -c 'import transformers; print("transformers", transformers.__version__)'
	.venv-oldest/bin/python -m pytest -q $(BACKEND_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-lock .venv-latest .venv-oldest .pytest_cache .mypy_cache
