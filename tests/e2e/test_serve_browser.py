"""The teacher's check in a real browser: `nnintro serve` on two digit runs, a stroke drawn on the page's canvas
with the pointer in headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs), the
probability bars of both models appearing and changing while drawing; then Ctrl-C stops the server cleanly."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1100,760"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def bars(driver) -> dict[str, list[str]]:
    from selenium.webdriver.common.by import By

    return {card.get_attribute("data-run"): [fill.get_attribute("style") for fill in card.find_elements(By.CSS_SELECTOR, ".fill")]
            for card in driver.find_elements(By.CSS_SELECTOR, "article.run")}


def updates(driver) -> list[int]:
    from selenium.webdriver.common.by import By

    return [int(card.get_attribute("data-updates")) for card in driver.find_elements(By.CSS_SELECTOR, "article.run")]


def settle(driver, seconds: float = 10) -> None:
    """Wait until no answer has arrived for a moment (the page sends the drawing while it changes)."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        now = updates(driver)
        if now == last:
            return
        last = now
        time.sleep(0.5)


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; "
                           ".ci/run installs them)")
def test_drawing_on_the_page_moves_both_models_bars(served_runs, tmp_path):
    pytest.importorskip("selenium")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "nnintro", "serve", str(served_runs["digits_mlp"]),
                               str(served_runs["digits_linear"]), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver = None
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        driver = browser(tmp_path / "profile")
        driver.get(f"http://127.0.0.1:{port}/")
        pad = driver.find_element(By.ID, "pad")
        deadline = time.monotonic() + 20
        while len(bars(driver)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(bars(driver)) == 2 and all(len(b) == 10 for b in bars(driver).values())
        untouched = bars(driver)

        stroke = ActionChains(driver, duration=20).move_to_element_with_offset(pad, -70, -80).click_and_hold()
        for _ in range(9):  # the 7's top bar, held down: answers arrive while drawing
            stroke.move_by_offset(16, 0)
        stroke.perform()
        settle(driver)
        first, answered = bars(driver), updates(driver)
        assert all(n >= 1 for n in answered) and first != untouched

        stroke = ActionChains(driver, duration=20)
        for _ in range(11):  # the 7's stem
            stroke.move_by_offset(-6, 16)
        stroke.release().perform()
        settle(driver)
        assert all(later > earlier for later, earlier in zip(updates(driver), answered))
        assert all(bars(driver)[run] != first[run] for run in first)  # each model's bars moved with the stroke
        assert len(driver.find_elements(By.CSS_SELECTOR, "article.run .bar.top")) == 2
        driver.save_screenshot(str(tmp_path / "serve.png"))
        if os.environ.get("NNINTRO_SCREENSHOT"):  # how README's picture of the page is made
            shutil.copy(tmp_path / "serve.png", os.environ["NNINTRO_SCREENSHOT"])
    finally:
        if driver is not None:
            driver.quit()
        server.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert f"open http://127.0.0.1:{port}/" in out and "Traceback" not in err
