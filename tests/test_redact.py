"""One redaction for every URL we store or print: user information and secret-named query
parameters become `***`; everything else is left as it is."""

from __future__ import annotations

import logging

import pytest

from lmaudit.cli import main
from lmaudit.core.redact import RedactingFilter, redact, redact_json, secret_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openai:m@https://user:sk-1@api.x.com/v1", "openai:m@https://***@api.x.com/v1"),
        ("http://sk-only@h:8000/v1", "http://***@h:8000/v1"),
        ("http://h/v1?api_key=sk-2&mode=fast", "http://h/v1?api_key=***&mode=fast"),
        ("http://h/v1?key=a&token=b&access_token=c", "http://h/v1?key=***&token=***&access_token=***"),
        ("http://h/v1?X-Amz-Signature=s&sig=t&design=d", "http://h/v1?X-Amz-Signature=***&sig=***&design=d"),
        ("http://h/v1?password=p#frag", "http://h/v1?password=***#frag"),
        ("401 from http://u:p@h/v1/completions: x", "401 from http://***@h/v1/completions: x"),
        ("user@example.com wrote a=b", "user@example.com wrote a=b"),
        ("http://h:8000/v1", "http://h:8000/v1"),
    ],
)  # fmt: skip
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


def test_redact_json_and_secret_values() -> None:
    value = {"spec": "http://u:p@h", "list": ["http://h?token=t", 3, None], "n": 1.5}
    assert redact_json(value) == {
        "spec": "http://***@h",
        "list": ["http://h?token=***", 3, None],
        "n": 1.5,
    }
    url = "https://alice:pw@h/v1?api_key=k1&mode=x&auth_token=k2"
    assert secret_values(url) == ["alice", "pw", "k1", "k2"]


def test_log_records_are_redacted() -> None:
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "retry %s", ("http://u:p@h",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "retry http://***@h"


def test_cli_errors_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "openai:m@ftp://user:pw-5ecret@host/v1"
    assert main(["run", "--model", spec, "--task", "arith", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pw-5ecret" not in err
    assert err == (
        "lmaudit: error: cannot read 'm@ftp://***@host/v1': expected "
        "MODEL@http(s)://HOST[:PORT]/PATH (the base URL needs its scheme)\n"
    )
