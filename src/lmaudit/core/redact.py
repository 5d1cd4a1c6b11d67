"""Credential redaction: the one function every stored or printed URL goes through.

A credential can ride inside a URL in two ways, and both are replaced by `***`:

* user information: `https://user:KEY@host/v1` → `https://***@host/v1` (user name and
  password together, since some APIs take the key as the user name);
* query parameters whose name says they carry a secret: a name containing `key`, `token`,
  `secret`, `password`, `passwd`, `pwd`, `auth`, `credential` or `signature`, or named
  `sig` (case-insensitive; `api_key`, `key`, `access_token`, `X-Amz-Signature`, `sig`, ...):
  `?api_key=KEY&x=1` → `?api_key=***&x=1`.

`redact` works on any text (a model spec such as `openai:m@https://u:k@h/v1`, an error
message, a log line), so callers need not find the URLs first. It is idempotent. The CLI
passes its error line and every log record through it (`redact_logging`); the run store
passes every manifest string; the HTTP client scrubs its messages with it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#@\s\"'<>]*@")
_SECRET_NAME = (
    r"(?:[\w.\-]*(?:key|token|secret|passw(?:or)?d|pwd|auth|credential|signature)[\w.\-]*|sig)"
)
_SECRET_NAME_ONLY = re.compile("(?i)" + _SECRET_NAME)
_SECRET_PARAM = re.compile(r"(?i)([?&;]" + _SECRET_NAME + r"=)[^&#;\s\"'<>]*")


def redact(text: str) -> str:
    """`text` with every credential inside a URL replaced by `***` (see the module doc)."""
    if "@" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


def has_credentials(text: str) -> bool:
    """Whether `redact` would change `text`."""
    return redact(text) != text


def redact_json(value: Any) -> Any:
    """A copy of a JSON-like value with `redact` applied to every string (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_json(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [redact_json(v) for v in value]
    return value


def secret_values(url: str) -> list[str]:
    """The credentials inside a URL (password, user name, secret query values), non-empty,
    so that a message quoting them without the URL around them can be scrubbed too."""
    parts = urlsplit(url.strip())
    found = [parts.username or "", parts.password or ""] if "@" in parts.netloc else []
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _SECRET_NAME_ONLY.fullmatch(name):
            found.append(value)
    return [value for value in found if value]


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through `redact` (message and args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logging() -> None:
    """Add a `RedactingFilter` to every handler of the root logger (once)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
