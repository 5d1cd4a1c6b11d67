"""The HTML report in a real browser: Debian's headless Chromium driven by Selenium.

Checks: no console errors and no request beyond the file itself (Chrome's performance log:
every Network.requestWillBeSent), the cards show the numbers in results.json, filters and
search work by real clicks and typing, the script-injection answer is shown as text and
never runs, and the summary reads with JavaScript disabled.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_support import make_driver as _make_driver
from browser_support import require_browser

require_browser()

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from lmaudit.report import load_report, write_html  # noqa: E402
from lmaudit.report.fmt import interval, number  # noqa: E402
from lmaudit.report.viewer import PAGE_SIZE  # noqa: E402
from lmaudit.stats import Estimate  # noqa: E402
from report_fixtures import INJECTION, make_audit  # noqa: E402


def make_driver(profile: Path, javascript: bool = True) -> webdriver.Chrome:
    return _make_driver(profile, javascript=javascript, performance_log=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("browser")
    audit = make_audit(root / "audit")
    html = write_html(load_report([audit]), audit / "report.html")
    return audit, html


@pytest.fixture(scope="module")
def driver(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[webdriver.Chrome]:
    browser = make_driver(tmp_path_factory.mktemp("profile"))
    browser.get(built[1].resolve().as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return document.body.dataset.viewerReady") == "1")
    yield browser
    browser.quit()


def _requests(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(document URL, requested URL) of every Network.requestWillBeSent event."""
    out = []
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            params = message["params"]
            out.append((params.get("documentURL", ""), params["request"]["url"]))
    return out


NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


def _assert_only_the_file(entries: list[dict[str, Any]], uri: str) -> None:
    """The report's document requests only itself, and nothing in the browser goes to a
    network scheme (Chromium's own start-up page makes chrome:// requests of its own)."""
    requests = _requests(entries)
    assert {url for doc, url in requests if doc == uri} <= {uri}
    assert not [url for _, url in requests if url.startswith(NETWORK_SCHEMES)]


def test_loads_without_errors_or_requests(driver: webdriver.Chrome,
                                          built: tuple[Path, Path]) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    uri = built[1].resolve().as_uri()
    entries = driver.get_log("performance")
    assert (uri, uri) in _requests(entries)
    _assert_only_the_file(entries, uri)
    assert driver.execute_script("return document.styleSheets.length") == 1
    assert driver.execute_script(
        "return getComputedStyle(document.querySelector('header')).backgroundColor"
    ) == "rgb(31, 59, 87)"  # the inline stylesheet applied under the CSP


def test_cards_show_results_json(driver: webdriver.Chrome, built: tuple[Path, Path]) -> None:
    audit = built[0]
    for model, rel in (("lab:clean", "runs/clean/arith"), ("lab:dirty", "runs/dirty/arith"),
                       ("lab:clean", "runs/clean/arith_mc")):
        results = json.loads((audit / rel / "results.json").read_text())
        task = results["task"]
        card = driver.find_element(
            By.CSS_SELECTOR, f'article.card[data-model="{model}"][data-task="{task}"]')
        metric = "acc_flexible" if task == "arith" else "acc"
        stored = results["metrics"][metric]
        score = card.find_element(By.CSS_SELECTOR, f'.score[data-metric="{metric}"]')
        estimate = Estimate(stored["value"], stored["ci_low"], stored["ci_high"], stored["n"],
                            stored["method"])
        assert score.text == number(stored["value"], True)
        assert float(score.get_attribute("data-value") or "nan") == stored["value"]
        ci = score.find_element(By.XPATH, "following-sibling::span[@class='ci']")
        assert ci.text == interval(estimate, True)
    dirty = driver.find_element(
        By.CSS_SELECTOR, 'article.card[data-model="lab:dirty"][data-task="arith"]')
    probe = json.loads((audit / "probes/dirty/probe_results.json").read_text())
    drop = probe["families"]["symbolic"]["drop"]
    shown = dirty.find_element(By.CSS_SELECTOR, ".probe-drop")
    assert float(shown.get_attribute("data-value") or "nan") == drop["value"]
    assert shown.text == f"{100 * drop['value']:+.1f} points"
    assert dirty.get_attribute("data-trust") == "not trusted"
    assert "NOT TRUSTED" in dirty.find_element(By.CSS_SELECTOR, ".level").text
    assert "Δ1" in dirty.find_element(By.CSS_SELECTOR, ".sentence").text


def _count(driver: webdriver.Chrome) -> int:
    return int(driver.find_element(By.ID, "viewer-count").text.split(" of ")[0])


def _choose(driver: webdriver.Chrome, select_id: str, label: str) -> None:
    driver.find_element(By.ID, select_id).click()
    driver.find_element(By.XPATH, f'//select[@id="{select_id}"]/option[.="{label}"]').click()


def _column(driver: webdriver.Chrome, index: int) -> list[str]:
    """The texts of one column of the shown page (read in one script call: atomic)."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#viewer-rows tr'),"
        " r => r.children[arguments[0]].textContent)", index))


def test_filters_and_search(driver: webdriver.Chrome) -> None:
    total = _count(driver)
    n_samples = driver.execute_script(
        "return JSON.parse(document.getElementById('lmaudit-samples').textContent).run.length")
    assert total == n_samples
    assert len(driver.find_elements(By.CSS_SELECTOR, "#viewer-rows tr")) == PAGE_SIZE
    _choose(driver, "f-model", "lab:dirty")
    _choose(driver, "f-task", "arith")
    _choose(driver, "f-variant", "symbolic")
    dirty_symbolic = _count(driver)
    assert 0 < dirty_symbolic < total
    assert set(_column(driver, 0)) == {"lab:dirty"} and set(_column(driver, 2)) == {"symbolic"}
    _choose(driver, "f-correct", "correct")
    assert _count(driver) == 0  # the memorizer fails every fresh variant
    _choose(driver, "f-correct", "wrong")
    assert _count(driver) == dirty_symbolic
    driver.find_element(By.ID, "viewer-next").click()
    assert driver.find_element(By.ID, "viewer-page").text.startswith("page 2 /")
    # side by side: a perturbed item next to its original
    driver.find_element(By.CSS_SELECTOR, "#viewer-rows tr").click()
    heads = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#viewer-detail h4")]
    assert len(heads) == 2 and heads[0].startswith("original:") and "perturbed" in heads[1]
    _choose(driver, "f-model", "all")
    _choose(driver, "f-variant", "original")
    _choose(driver, "f-correct", "any")
    driver.find_element(By.ID, "f-disagree").click()
    disagree = _count(driver)
    assert 0 < disagree < total
    driver.find_element(By.ID, "f-disagree").click()
    search = driver.find_element(By.ID, "f-search")
    search.send_keys("arith-test-002-00")
    WebDriverWait(driver, 5).until(lambda d: set(_column(d, 3)) == {"arith-test-002-00"})
    # task arith, variant original: each model's run and its probe's original
    assert _count(driver) == len(_column(driver, 3)) == 4
    search.clear()
    search.send_keys(" ")  # an input event; blank query matches everything
    WebDriverWait(driver, 5).until(lambda d: _count(d) > 100)


def test_injection_is_inert_and_shown_as_text(driver: webdriver.Chrome) -> None:
    _choose(driver, "f-task", "all")
    _choose(driver, "f-variant", "all")
    search = driver.find_element(By.ID, "f-search")
    search.clear()
    search.send_keys("__pwned")
    WebDriverWait(driver, 5).until(lambda d: 0 < _count(d) < 10)
    driver.find_element(By.CSS_SELECTOR, "#viewer-rows tr").click()
    shown = driver.find_element(By.CSS_SELECTOR, "#viewer-detail pre.field-raw-response")
    assert (shown.get_attribute("textContent") or "").strip() == INJECTION.strip()
    assert driver.find_elements(By.CSS_SELECTOR, "#viewer-detail img, #viewer-detail script") \
        == []
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    _assert_only_the_file(driver.get_log("performance"), driver.current_url)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_summary_reads_without_javascript(built: tuple[Path, Path], tmp_path: Path) -> None:
    browser = make_driver(tmp_path / "profile", javascript=False)
    try:
        browser.get(built[1].resolve().as_uri())
        cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
        assert len(cards) == 4 and all(c.is_displayed() for c in cards)
        assert browser.find_element(By.CSS_SELECTOR, "#comparison svg").is_displayed()
        assert not browser.find_element(By.ID, "viewer").is_displayed()
        assert "needs JavaScript" in browser.find_element(By.ID, "samples").text
    finally:
        browser.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_compressed_samples_inflate_in_the_browser(built: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    """Large reports carry the samples as gzip + base64 (DecompressionStream)."""
    html = write_html(load_report([built[0]]), tmp_path / "packed.html", compress=True)
    assert 'data-encoding="gzip+base64"' in html.read_text()
    browser = make_driver(tmp_path / "profile")
    try:
        browser.get(html.resolve().as_uri())
        WebDriverWait(browser, 20).until(
            lambda d: d.execute_script("return document.body.dataset.viewerReady") == "1")
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
        assert _count(browser) == len(load_report([built[0]]).samples)
        browser.find_element(By.ID, "f-search").send_keys("__pwned")
        WebDriverWait(browser, 5).until(lambda d: 0 < _count(d) < 10)
        assert INJECTION.strip() in (browser.find_element(By.ID, "viewer-rows").text
                                     + "".join(_column(browser, 5)))
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
    finally:
        browser.quit()
