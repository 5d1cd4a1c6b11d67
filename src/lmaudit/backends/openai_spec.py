"""Model specs of the OpenAI-compatible backend: `MODEL[@BASE_URL][#ENV_NAME]`, and base
URLs as they may be shown (no user information, query or fragment: see `core.redact`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from lmaudit.core.redact import redact
from lmaudit.core.types import LmauditError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class OpenAISpec:
    """A parsed `openai:`/`openai-chat:` target. `base_url` is None when the spec omits it;
    `key_env` is None when the spec names no environment variable."""

    model: str
    base_url: str | None
    key_env: str | None


def parse_spec(target: str) -> OpenAISpec:
    """Split `MODEL[@BASE_URL][#ENV_NAME]` (the part after `openai:` or `openai-chat:`)."""
    key_env = None
    head, sep, tail = target.rpartition("#")
    if sep:
        if not _ENV_NAME.fullmatch(tail):
            raise LmauditError(
                f"invalid environment variable name {tail!r} after '#' in {target!r}"
            )
        target, key_env = head, tail
    base_url = None
    match = re.search(r"@(?=https?://)", target, flags=re.IGNORECASE)
    if match:
        target, base_url = target[: match.start()], target[match.end() :]
    elif "@" in target:
        raise LmauditError(
            f"cannot read {target!r}: expected MODEL@http(s)://HOST[:PORT]/PATH "
            "(the base URL needs its scheme)"
        )
    if not target:
        raise LmauditError("the model spec names no model (expected openai:MODEL[@BASE_URL])")
    return OpenAISpec(target, base_url, key_env)


def display_url(url: str) -> tuple[str, str | None]:
    """(URL without user, password, query or fragment; the password, if any)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise LmauditError(f"invalid base URL {redact(url)!r}: expected http(s)://HOST")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    shown = urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
    return shown, parts.password
