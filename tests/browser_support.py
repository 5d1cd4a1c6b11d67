"""Headless Chromium for the browser tests: Debian's `chromium` and `chromium-driver`, driven
by Selenium pointed at those binaries (Selenium Manager never downloads a browser).

`require_browser()` skips the calling test module with one line when either binary or
selenium is missing (`make test` installs them when it runs as root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# No background traffic: this machine's network is closed, and a test must see only its own.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--window-size=1400,1000")


def require_browser() -> None:
    """Skip the whole calling module, with one clear line, when no browser can run."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("browser tests need Debian's chromium and chromium-driver "
                    "(/usr/bin/chromium, /usr/bin/chromedriver); not installed",
                    allow_module_level=True)
    pytest.importorskip("selenium", reason="browser tests need the selenium package")


def make_driver(profile: Path, *, javascript: bool = True, performance_log: bool = False) -> Any:
    """A headless Chrome session with a fresh profile; the browser console log is kept (and
    Chrome's performance log, every network event, when asked)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    logs = {"browser": "ALL", **({"performance": "ALL"} if performance_log else {})}
    options.set_capability("goog:loggingPrefs", logs)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
