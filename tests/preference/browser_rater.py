"""A rater in a real browser, shared by the browser tests: headless Debian Chromium driven by Selenium through
Debian's chromium-driver (nothing downloaded at run time), signed in with a rater's own password. Under CI=true a
missing browser, driver or selenium is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")


def need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, DRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (requirements/dev.txt)")
    if missing:
        msg = f"needs {', '.join(missing)} (apt-get install -y chromium chromium-driver; pip install selenium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)


class Rater:
    """One browser session (fresh profile) signed in as one rater."""

    def __init__(self, url: str, username: str, password: str, shots: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            opts.add_argument(flag)
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        opts.add_argument(f"--user-data-dir={self.profile}")
        self.d = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
        self.url, self.user, self.shots = url, username, shots
        self.sign_in(password)

    def wait(self, css: str, timeout: float = 30):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.d, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def sign_in(self, password: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.d.get(f"{self.url}/sign-in")
        self.wait("input[name='Username']").send_keys(self.user)
        self.d.find_element(By.NAME, "Password").send_keys(password)
        self.d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(self.d, 30).until(lambda d: "/sign-in" not in d.current_url)

    def datasets(self) -> list[str]:
        """Dataset links on the rater's home page (every dataset they can open)."""
        from selenium.webdriver.common.by import By

        self.wait("a[href*='/dataset/']")
        return sorted({a.get_attribute("href").split("?")[0] for a in self.d.find_elements(By.TAG_NAME, "a")
                       if "/dataset/" in (a.get_attribute("href") or "")})

    def open(self, dataset_url: str, page: int = 1) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.d.get(f"{dataset_url}?page={page}&status=pending")
        el = self.wait("[aria-label='Current Record']")
        WebDriverWait(self.d, 30).until(lambda d: el.text.strip() == str(page))

    def total(self) -> int:
        return int(self.wait("[aria-label='Total Records']").text.split()[-1])  # "of N"

    def record_id(self) -> str:
        """The server id of the record shown: field containers are `fields-content-<field>-<record>`."""
        ids = self._shown()
        assert len(ids) == 1, ids
        return ids.pop()

    def queue(self, dataset_url: str) -> list[str]:
        """Every pending record id, as the rater pages through them with the Next button."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.open(dataset_url)
        out = [self.record_id()]
        for page in range(2, self.total() + 1):
            self.d.find_element(By.CSS_SELECTOR, "button[aria-label^='Next']").click()
            WebDriverWait(self.d, 30).until(
                lambda d, page=page: d.find_element(By.CSS_SELECTOR, "[aria-label='Current Record']").text.strip()
                == str(page) and len(shown := self._shown()) == 1 and shown != {out[-1]})
            out.append(self.record_id())
        return out

    def rank_and_submit(self, dataset_url: str, order: list[str], ranks: list[int] | None = None) -> str:
        """Verdict "ranked", then the keyboard ranking (focus a card, press its rank: `ranks`, default
        1, 2, ... in `order`), then Submit."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.open(dataset_url)
        rid = self.record_id()
        for _ in range(3):  # the form hydrates after the record shows: a too-early click is lost, so retry
            self.wait("label[title='ranked']").click()
            time.sleep(0.3)
            for rank, name in zip(ranks or range(1, len(order) + 1), order, strict=True):
                self.d.find_element(By.ID, name).send_keys(str(rank))
                time.sleep(0.3)
            try:
                submit = WebDriverWait(self.d, 5).until(
                    lambda d: d.find_element(By.CSS_SELECTOR, "button.button--submit:not([disabled])"))
                break
            except TimeoutException:
                self.open(dataset_url)
        else:
            self.d.save_screenshot(str(self.shots / f"{self.user}-submit-disabled.png"))
            raise AssertionError(f"Submit stayed disabled; see {self.shots}")
        self.d.save_screenshot(str(self.shots / f"{self.user}-ranked.png"))
        submit.click()
        # once the server has the response the UI moves on to the next pending record
        WebDriverWait(self.d, 30).until(lambda d: len(shown := self._shown()) == 1 and shown != {rid})
        self.d.save_screenshot(str(self.shots / f"{self.user}-after-submit.png"))
        return rid

    def review_queue(self, dataset_url: str, answer: Callable[[str], tuple[str, str | None]]) -> list[str]:
        """Answer every pending record of a review dataset as a rater does: click the `decision` label, type the
        edited text into "Edited text" when there is one, Submit, and let the UI move on to the next pending
        record. answer(record id) -> (decision label, edited text or None). Returns the record ids answered."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.open(dataset_url)
        done: list[str] = []
        for _ in range(self.total()):
            rid = self.record_id()
            decision, edited = answer(rid)
            for _try in range(3):  # the form hydrates after the record shows: a too-early click is lost, so retry
                try:
                    self.wait(f"label[title='{decision}']").click()
                    if edited:
                        box = self.wait("[contenteditable='true']")
                        box.click()
                        box.send_keys(edited)
                    submit = WebDriverWait(self.d, 5).until(
                        lambda d, label=f"decision_{decision}": d.find_element(By.ID, label).is_selected()
                        and d.find_element(By.CSS_SELECTOR, "button.button--submit:not([disabled])"))
                    if edited:
                        WebDriverWait(self.d, 5).until(
                            lambda d, text=edited: d.find_element(By.CSS_SELECTOR, "[contenteditable='true']").text
                            == text)
                    break
                except (TimeoutException, StaleElementReferenceException):
                    self.open(dataset_url)
                    assert self.record_id() == rid
            else:
                self.d.save_screenshot(str(self.shots / f"{self.user}-review-{len(done)}.png"))
                raise AssertionError(f"could not answer {decision!r} on {rid}; see {self.shots}")
            submit.click()
            # once the server has the response the UI shows the next pending record (none after the last)
            WebDriverWait(self.d, 30).until(lambda d, rid=rid: rid not in self._shown())
            done.append(rid)
        self.d.save_screenshot(str(self.shots / f"{self.user}-review-done.png"))
        return done

    def field(self, title: str):
        """The content of the shown record's text field whose title starts with `title` (container ids name the
        field's server id, not its name)."""
        from selenium.webdriver.common.by import By

        for comp in self.d.find_elements(By.CSS_SELECTOR, ".text_field_component"):
            if comp.find_element(By.CSS_SELECTOR, ".text_field_component__title-content").text.startswith(title):
                return comp.find_element(By.CSS_SELECTOR, "[id^='fields-content-']")
        raise AssertionError(f"no field titled {title!r} on {self.d.current_url}")

    def _shown(self) -> set[str]:
        """Ids of the records on screen; the list re-renders while a record loads, so an element found can go
        stale before its id is read: read again (a busy machine makes this common)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        for _ in range(10):
            try:
                return {e.get_attribute("id")[-36:]
                        for e in self.d.find_elements(By.CSS_SELECTOR, "[id^='fields-content-']")}
            except StaleElementReferenceException:
                time.sleep(0.2)
        return set()

    def close(self) -> None:
        self.d.quit()
        shutil.rmtree(self.profile, ignore_errors=True)
