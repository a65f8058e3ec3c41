"""The report in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

Both ways a person reads the report are opened: the files of `okrsync report` from file://,
and the pages a running `okrsync run` serves. From index.html every KR page is reached by its
link, and each page, at 1280 and at 390 CSS pixels wide, must log no console error, make no
failed request and no request off the machine (file:, data: and the daemon on 127.0.0.1 only),
show its burn-up as a non-empty SVG, and not scroll sideways, on screen nor printed on A4
(each page is also printed to PDF). Screenshots go to
`test-artifacts/report-browser/` (git-ignored) for a person to look at.

The browser is Debian's (`apt-get install chromium chromium-driver`, done by `.ci/run`), so
nothing is downloaded: Selenium is given both binaries and SE_OFFLINE keeps Selenium Manager
from looking for others. Without them the tests fail saying how to install them.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.daemon_support import DaemonProcess, free_port, wait_for
from tests.helpers import Project
from tests.report_support import TODAY, invoke, synced_org

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "report-browser"
WIDTHS = {"desktop": (1280, False), "phone": (390, True)}
KR_IDS = {"ENG-1.1", "ENG-1.2"}


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the browser tests need Debian's Chromium. Install it as "
            "`.ci/run` does: apt-get install -y chromium chromium-driver",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="okrsync-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        f"--user-data-dir={profile.name}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver or a browser
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("org")
    with synced_org(folder, f"sqlite:///{folder / 'okrsync.db'}") as project:
        yield project


def _network(driver: webdriver.Chrome) -> tuple[list[str], list[str]]:
    """Read the performance log since the last read: requested URLs, and failures."""
    requested, failed = [], []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params: dict[str, Any] = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            requested.append(params["request"]["url"])
        elif message["method"] == "Network.loadingFailed":
            failed.append(f"{params.get('errorText')} ({params.get('blockedReason') or 'not blocked'})")
        elif message["method"] == "Network.responseReceived" and params["response"].get("status", 200) >= 400:
            failed.append(f"{params['response']['status']} {params['response']['url']}")
    return requested, failed


def _local(url: str, *, daemon: str | None) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "about"):
        return True
    return daemon is not None and f"{parts.scheme}://{parts.netloc}" == daemon


def check_page(driver: webdriver.Chrome, url: str, *, name: str, daemon: str | None) -> None:
    """Open `url` at each width; assert no console error, no bad or remote request, no sideways scroll."""
    for label, (width, mobile) in WIDTHS.items():
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile},
        )
        driver.get_log("browser"), driver.get_log("performance")  # drop what came before
        driver.get(url)
        wait_for(
            lambda: driver.execute_script("return document.readyState") == "complete", timeout=10, what=url
        )
        scroll, client = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"{url} at {width}px scrolls sideways: {scroll} > {client}"
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": min(int(height), 8000), "deviceScaleFactor": 1, "mobile": mobile},
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}-{label}.png"))

        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], f"console errors on {url}: {errors}"
        requested, failed = _network(driver)
        assert failed == [], f"failed requests on {url}: {failed}"
        remote = [u for u in requested if not _local(u, daemon=daemon)]
        assert remote == [], f"{url} asked for {remote}"
        if label == "desktop":
            check_print(driver, url, name=name)
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (r) { return r.name; })"
        )
        assert [r for r in resources if not _local(r, daemon=daemon)] == []


def check_print(driver: webdriver.Chrome, url: str, *, name: str) -> None:
    """Print the page to PDF (an artefact to look at) and check print layout fits an A4 width."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 794, "height": 1123, "deviceScaleFactor": 1, "mobile": False},  # A4 at 96 dpi
    )
    try:
        scroll, client = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"{url} printed is wider than A4: {scroll} > {client}"
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
        data = base64.b64decode(pdf["data"])
        assert data.startswith(b"%PDF")
        (ARTIFACTS / f"{name}.pdf").write_bytes(data)
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def check_charts(driver: webdriver.Chrome, kr_id: str) -> None:
    """Every chart on the page has drawn something; a milestones KR's burn-up has a done line."""
    charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert charts, f"{kr_id}: no chart"
    for chart in charts:
        width, height = driver.execute_script(
            "var b = arguments[0].getBBox(); return [b.width, b.height];", chart
        )
        assert width > 0 and height > 0
    titles = [c.find_element(By.TAG_NAME, "title").get_attribute("textContent") for c in charts]
    if kr_id == "ENG-1.1":
        burn_up = charts[titles.index("Burn-up")]
        done = burn_up.find_element(By.CSS_SELECTOR, "polyline.l-done").get_attribute("points") or ""
        assert len(done.split()) >= 4, done  # three days of history and today
    else:
        assert titles[0] == "Value"


def crawl(driver: webdriver.Chrome, start: str, *, name: str, daemon: str | None = None) -> set[str]:
    """Check the index, then every KR page reached through the index's links; return the KR ids seen."""
    check_page(driver, start, name=f"{name}-index", daemon=daemon)
    links = {
        a.find_element(By.CSS_SELECTOR, ".id").text: a.get_attribute("href")
        for a in driver.find_elements(By.CSS_SELECTOR, "li.kr a.title")
    }
    for kr_id, href in sorted(links.items()):
        assert href is not None
        check_page(driver, href, name=f"{name}-{kr_id}", daemon=daemon)
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith(kr_id)
        check_charts(driver, kr_id)
    return set(links)


def test_the_written_report_opens_from_file_with_every_kr_page_reached_cleanly(
    browser: webdriver.Chrome, org: Project, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    invoke(org, "report", "--out", str(out), at=TODAY)

    seen = crawl(browser, (out / "index.html").as_uri(), name="file")

    assert seen == KR_IDS


def test_the_running_daemon_serves_the_same_report_cleanly(
    browser: webdriver.Chrome, org: Project, tmp_path: Path
) -> None:
    daemon = DaemonProcess(
        org.config,
        log=tmp_path / "run.log",
        interval=3600,
        port=free_port(),
        env={"OKRSYNC_NOW": TODAY.isoformat()},
    )
    try:
        wait_for(lambda: daemon.healthz(), timeout=20, what="the daemon's server")
        seen = crawl(browser, daemon.base + "/", name="live", daemon=daemon.base)
    finally:
        daemon.stop()

    assert seen == KR_IDS
    assert "Traceback" not in daemon.output()
