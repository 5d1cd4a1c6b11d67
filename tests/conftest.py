"""Suite-wide settings: the request cache lives in a temporary directory, never the user's."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LMAUDIT_CACHE_DIR", tempfile.mkdtemp(prefix="lmaudit-test-cache-"))
