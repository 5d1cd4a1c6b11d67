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
