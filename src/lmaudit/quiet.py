"""Third-party output stays out of lmaudit's: no foreign progress bars or log lines unless
the user asks for them (`--verbose`).

lmaudit shows one progress bar per stage of its own. Libraries it drives (transformers,
datasets, the Hugging Face hub client, sentence-transformers, Ray, torch) print their own bars
("Loading weights", "Writing model shards"), advisory warnings and INFO lines; those are
silenced here. Heavy libraries are imported lazily, so the environment variables set here
take effect when they load; libraries already imported are told directly. Variables the
user has set explicitly are left as they are.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # hub downloads, datasets, transformers' loading bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # also silences the fork warning of `tokenizers`
    "RAY_DEDUP_LOGS": "0",
    "RAY_DISABLE_IMPORT_WARNING": "1",
}

# Loggers of libraries whose INFO and WARNING lines are not the user's concern by default.
THIRD_PARTY_LOGGERS = (
    "transformers",
    "datasets",
    "huggingface_hub",
    "sentence_transformers",
    "torch",
    "ray",
    "filelock",
    "urllib3",
    "httpx",
    "aiohttp",
    "vllm",
)

VERBOSE_HELP = (
    "also show other libraries' progress bars, warnings and log lines (transformers, "
    "datasets, Ray, ...), hidden by default, and lmaudit's INFO lines"
)

_WARNING_MODULES = r"(transformers|datasets|huggingface_hub|sentence_transformers|torch|ray)(\.|$)"


def quiet_third_party(verbose: bool = False) -> None:
    """Silence other libraries' progress bars, warnings and log lines (errors still show).

    With `verbose`, nothing is silenced and lmaudit's own logger shows INFO lines too.
    """
    if verbose:
        logging.getLogger("lmaudit").setLevel(logging.INFO)
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=_WARNING_MODULES)
    _tell_loaded_libraries()


def _tell_loaded_libraries() -> None:
    """Libraries imported before `quiet_third_party` read their settings already."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
