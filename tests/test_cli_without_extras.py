"""The command line works without the optional extras: a missing web-app package breaks
only `arena serve`/`arena export`, with one line saying what to install."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)


def test_every_command_parses_without_the_app_packages() -> None:
    done = run(
        "import sys\n"
        "for name in ('fastapi', 'uvicorn', 'sqlalchemy', 'alembic', 'nh3', 'itsdangerous'):\n"
        "    sys.modules[name] = None\n"
        "from lmaudit.cli import main\n"
        "sys.exit(main(['tasks']))\n"
    )
    assert done.returncode == 0, done.stderr
    assert "gsm8k" in done.stdout


def test_arena_export_names_the_missing_extra() -> None:
    done = run(
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'sqlalchemy' else real(n, *a)\n"
        "from lmaudit.cli import main\n"
        "sys.exit(main(['arena', 'export', '--db', 'sqlite:///x.db', '--out', 'x.jsonl']))\n"
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "lmaudit: error: the arena web app needs sqlalchemy: pip install 'lmaudit[app]'"
    )
