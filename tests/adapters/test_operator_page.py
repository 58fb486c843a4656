"""The operator web page in a real headless browser (Debian's chromium and chromedriver).

``itdose run --drive emulator`` drives the bundled emulator on a pseudo-terminal (SIGUSR1 stalls
its motor); the page is the one its API serves. A patient signs in,
sees the status and presses the bolus button (granted, visible through the API); a clinician
reviews a program change: the confirmation screen shows the old and new figures side by side and
nothing is sent until Confirm (Cancel sends nothing); then a motor stall shows as a HIGH alarm on
the patient's status view. Requirements: REQ-OPS-001, REQ-OPS-003.
"""

from __future__ import annotations

import os
import shutil
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("serial")
webdriver = pytest.importorskip("selenium.webdriver")

from itdose_runkit import Server, fast_setup  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "pump.db", "emulator", fast_setup(tmp_path))
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, predicate: Any, timeout_s: float = 10) -> Any:
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(predicate)


def text(driver: Any, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def sign_in(driver: Any, url: str, token: str) -> None:
    driver.get(url + "/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(url + "/")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    wait(driver, lambda d: text(d, "phase") == "active")


def test_status_bolus_and_confirmed_program_change_in_a_browser(
    running: Server, browser: Any
) -> None:
    server, driver = running, browser
    patient, clinician = server.token("patient"), server.token("clinician")

    with urllib.request.urlopen(server.url + "/", timeout=10) as resp:
        assert resp.headers["X-Frame-Options"] == "DENY"
        policy = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    sign_in(driver, server.url, patient)  # the page's script runs under that policy
    assert text(driver, "rolling").endswith("of at most 20 mg")
    assert "morphine 10 mg/mL" in text(driver, "reservoir")
    assert text(driver, "refill-date")[:2] == "20"  # a date
    assert not driver.find_element(By.ID, "clinician-view").is_displayed()
    driver.find_element(By.ID, "bolus").click()
    wait(driver, lambda d: text(d, "bolus-result").startswith("granted"))
    assert server.call("GET", "/status", patient)[1]["patient_bolus"]["taken_in_24h"] == 1
    driver.find_element(By.ID, "bolus").click()
    # changed by design: the first bolus (10 min) is still the order in flight and no two orders
    # run at once, so the second is also "not delivering" (no bolus during a bolus)
    wait(driver, lambda d: text(d, "bolus-result") == "denied: not_delivering, lockout")

    sign_in(driver, server.url, clinician)
    assert not driver.find_element(By.ID, "bolus").is_displayed()
    fields = {
        "basal-dose": "1.2 mg/day",
        "pb-dose": "0.1 mg",
        "pb-duration": "10 min",
        "pb-lockout": "1 h",
        "pb-max": "4",
    }
    for field, value in fields.items():
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "preview").click()
    wait(driver, lambda d: d.find_element(By.ID, "confirm-box").is_displayed())
    rows = {
        tr.get_attribute("data-key"): [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in driver.find_elements(By.CSS_SELECTOR, "#comparison-body tr")
    }
    assert rows["dose_per_day"] == ["dose/day", "1 mg/day", "1.2 mg/day"]
    assert rows["ml_per_day"] == ["mL/day (worst case)", "0.14 mL/day", "0.16 mL/day"]
    old_days, new_days = rows["days_to_low_reservoir"][1:]
    assert float(new_days) < float(old_days)
    # shown, not sent
    assert server.call("GET", "/status", clinician)[1]["program"]["dose_per_day"] == "1 mg/day"
    driver.find_element(By.ID, "cancel").click()
    wait(driver, lambda d: "nothing sent" in text(d, "message"))
    assert server.call("GET", "/status", clinician)[1]["program"]["dose_per_day"] == "1 mg/day"
    driver.find_element(By.ID, "preview").click()
    wait(driver, lambda d: d.find_element(By.ID, "confirm-box").is_displayed())
    driver.find_element(By.ID, "confirm").click()
    wait(driver, lambda d: text(d, "message") == "Program sent.")
    assert server.call("GET", "/status", clinician)[1]["program"]["dose_per_day"] == "1.2 mg/day"

    sign_in(driver, server.url, patient)
    server.proc.send_signal(signal.SIGUSR1)  # stalls the bundled emulator: the bolus is running
    alarm = wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#alarms li.alarm.HIGH"),
        timeout_s=15,
    )[0]
    assert alarm.get_attribute("data-kind") == "motor_stall"
    assert alarm.text.startswith("HIGH: motor_stall")
    assert text(driver, "phase") == "alarm"
