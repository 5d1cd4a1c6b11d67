"""Suite-wide settings: the request cache and the installed contamination-detector figures
live in a temporary directory, never the user's."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LMAUDIT_CACHE_DIR", tempfile.mkdtemp(prefix="lmaudit-test-cache-"))
os.environ.setdefault(
    "LMAUDIT_OPERATING_CHARACTERISTICS",
    os.path.join(tempfile.mkdtemp(prefix="lmaudit-test-figures-"), "operating.json"),
)

# Property-based tests explore new random inputs on every developer run, but CI (CI=true)
# replays a fixed sequence, so a green CI cannot turn red without a change. What a developer
# run finds is pinned with `@example` in the test.
try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # hypothesis is a dev dependency; the fuzz modules skip without it
    pass
else:
    _hypothesis_settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
