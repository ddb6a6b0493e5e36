"""`neurosym serve` in a real browser: headless Chromium (Debian's chromium and chromium-driver) through Selenium.

The page is driven through a full solve from a replayed cassette, a model edit and re-solve, an
infeasible model, a dead backend, and hostile input; a screenshot is saved at each step, in
$NEUROSYM_SCREENSHOTS if set, else in the test run's temporary folder (the path is printed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from neurosym.milp.files import load_model_text
from neurosym.milp.parser import parse_model
from neurosym.milp.sensitivity import analyse
from neurosym.milp.solve import solve_model

from .conftest import CHAIRS, CHAIRS_MODEL, HOSTILE, HOSTILE_REPLY, PENS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 60

NO_BROWSER = "headless Chromium is not installed (apt-get install chromium chromium-driver)"
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=NO_BROWSER)
webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed (pip install selenium)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ["NEUROSYM_SCREENSHOTS"]) if os.environ.get("NEUROSYM_SCREENSHOTS") else None
    if folder is None:
        folder = tmp_path_factory.mktemp("serve-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots of neurosym serve: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1800", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


class Page:
    """The page in the browser, with the few moves the tests make."""

    def __init__(self, driver, server, screenshots: Path) -> None:
        self.driver, self.server, self.folder = driver, server, screenshots
        driver.get(server.url)
        WebDriverWait(driver, WAIT_S).until(expected_conditions.presence_of_element_located((By.ID, "solve-form")))

    def shot(self, name: str) -> Path:
        path = self.folder / f"{name}.png"
        self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 1000
        return path

    def set_text(self, element_id: str, text: str) -> None:
        # The value is set by script: send_keys cannot type NUL or a 30,000-character paste in reasonable time.
        element = self.driver.find_element(By.ID, element_id)
        self.driver.execute_script("arguments[0].value = arguments[1];", element, text)

    def outcome_after(self, previous: str | None):
        """Wait for an outcome other than ``previous`` (a job id) and return its element."""

        def arrived(driver):
            found = driver.find_elements(By.ID, "outcome")
            return found[0] if found and found[0].get_attribute("data-job") != previous else False

        return WebDriverWait(self.driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(arrived)

    def solve(self, problem: str):
        self.set_text("problem", problem)
        Select(self.driver.find_element(By.ID, "target")).select_by_value("milp")
        self.driver.find_element(By.ID, "solve").click()
        return self.outcome_after(None)

    def resolve(self, text: str):
        previous = self.driver.find_element(By.ID, "outcome").get_attribute("data-job")
        self.set_text("model-text", text)
        self.driver.find_element(By.ID, "resolve").click()
        return self.outcome_after(previous)

    def notice(self) -> str:
        element = self.driver.find_element(By.ID, "notice")
        WebDriverWait(self.driver, WAIT_S).until(lambda _: element.is_displayed() and element.text)
        return element.text

    def not_run(self) -> None:
        """Nothing the tests sent was run as script, and no element came from it."""
        assert self.driver.title.startswith("neurosym"), self.driver.title
        assert self.driver.find_elements(By.CSS_SELECTOR, "#result script, #result img, #result b") == []


def _irreducibly_infeasible(text: str, names: set[str]) -> bool:
    """Whether the named constraints of ``text`` cannot hold together, and can once any one is dropped.

    An IIS is not unique, so the page's set is checked for what it claims, not against another's.
    """
    lines = text.splitlines()
    head = [line for line in lines if ":" not in line or line.startswith(("maximize", "minimize"))]
    rows = {line.split(":")[0]: line for line in lines if line not in head}

    def status(kept: set[str]) -> str:
        return solve_model(parse_model("\n".join(head + [rows[n] for n in kept]))).status

    return status(names) == "infeasible" and all(status(names - {n}) != "infeasible" for n in names)


def _cells(driver, table_id: str) -> dict[str, list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return {cells[0].text: [c.text for c in cells[1:]] for cells in (r.find_elements(By.TAG_NAME, "td") for r in rows)}


def first_sample(stream: str) -> str:
    """The first sample of the page's stream (the MILP default samples adaptively; the page heads each later one)."""
    return stream.split("\n--- sample 2 ---\n")[0]


def test_a_full_solve_then_an_edit_then_an_infeasible_model(browser, replay_server, screenshots):
    page = Page(browser, replay_server, screenshots)
    page.shot("01-start")
    outcome = page.solve(CHAIRS)
    expected = solve_model(parse_model(CHAIRS_MODEL))
    assert outcome.get_attribute("data-status") == "optimal"
    stream = browser.find_element(By.ID, "stream").text
    assert first_sample(stream).strip() == CHAIRS_MODEL.strip()  # streamed as written
    assert browser.find_element(By.ID, "objective").text == f"{expected.objective:g}"
    solution = _cells(browser, "solution")
    assert {name: float(values[0]) for name, values in solution.items()} == dict(expected.values)
    # The model as mathematics: MathML the browser lays out (a table row per objective, constraint, domains).
    math = browser.find_element(By.CSS_SELECTOR, "#model-math math")
    assert len(math.find_elements(By.TAG_NAME, "mtr")) == 1 + len(parse_model(CHAIRS_MODEL).constraints) + 1
    assert math.size["height"] > 40 and math.size["width"] > 200
    check = _cells(browser, "check")
    assert set(check) == {"wood", "hours"}
    binding = [name for name, cells in check.items() if cells[-1] == "binding"]
    assert browser.find_element(By.ID, "binding").text == "Binding: " + ", ".join(binding)
    assert all(cells[1] == "yes" for cells in check.values())
    page.shot("02-solved")

    # The download links serve files that other tools read back to the same optimum.
    link = browser.find_element(By.ID, "download-model-lp").get_attribute("href")
    lp = httpx.get(link, timeout=30).text
    assert solve_model(load_model_text(lp, "lp").model).objective == pytest.approx(expected.objective)
    csv_link = browser.find_element(By.ID, "download-solution-csv").get_attribute("href")
    assert httpx.get(csv_link, timeout=30).text.startswith("variable,value,kind\n")

    # Fractional chairs and more wood: an LP, so HiGHS's duals and ranges mean something and are shown.
    edited = CHAIRS_MODEL.replace("integer", "continuous").replace("<= 40", "<= 48")
    outcome = page.resolve(edited)
    again = solve_model(parse_model(edited))
    assert outcome.get_attribute("data-status") == "optimal"
    assert float(browser.find_element(By.ID, "objective").text) == pytest.approx(again.objective, rel=1e-5)
    assert again.objective != expected.objective  # the edit changed the optimum, and the page shows the new one
    assert browser.find_element(By.ID, "model-text").get_attribute("value") == edited
    assert "Edited by hand" in outcome.text
    duals = {name: float(cells[3]) for name, cells in _cells(browser, "sensitivity-constraints").items()}
    assert duals == pytest.approx({row.name: row.dual for row in analyse(parse_model(edited)).rows}, rel=1e-5)
    page.shot("03-edited-and-resolved")

    infeasible = CHAIRS_MODEL + "demand: chairs + tables >= 100\n"
    outcome = page.resolve(infeasible)
    assert outcome.get_attribute("data-status") == "inconsistent"
    assert "infeasible" in browser.find_element(By.ID, "headline").text
    conflict = _cells(browser, "conflict")
    assert "demand" in conflict and _irreducibly_infeasible(infeasible, set(conflict))
    assert browser.find_elements(By.ID, "solution") == []
    page.shot("04-infeasible")


def test_a_dead_backend_is_said_on_the_page(browser, dead_backend_server, screenshots):
    page = Page(browser, dead_backend_server, screenshots)
    outcome = page.solve(CHAIRS)
    assert outcome.get_attribute("data-status") == "error"
    error = browser.find_element(By.ID, "error").text
    assert "Backend" in error and "Traceback" not in outcome.text
    page.shot("05-dead-backend")
    # The page still works without the model: the person's own model is solved.
    outcome = page.resolve(CHAIRS_MODEL)
    assert outcome.get_attribute("data-status") == "optimal"
    page.shot("06-dead-backend-own-model")


def test_bad_input_is_shown_back_escaped_and_never_run(browser, replay_server, screenshots):
    page = Page(browser, replay_server, screenshots)
    page.set_text("problem", "   ")
    browser.find_element(By.ID, "solve").click()
    assert "empty" in page.notice()
    page.set_text("problem", "Maximize x. " * 2_500)  # 30,000 characters
    browser.find_element(By.ID, "solve").click()
    assert "too long" in page.notice()
    page.shot("07-empty-and-huge")

    outcome = page.solve(HOSTILE)
    assert browser.find_element(By.ID, "problem-echo").text == HOSTILE
    assert first_sample(browser.find_element(By.ID, "stream").text) == HOSTILE_REPLY
    assert outcome.get_attribute("data-status") == "invalid"
    page.not_run()
    page.shot("08-script-tags")

    binary = "".join(map(chr, range(1, 32))) + "\x7f\ufffd\u202e" + bytes(range(128, 256)).decode("latin-1")
    outcome = page.resolve("integer x\nmaximize x\n" + binary + "\n<script>document.title='pwned'</script>")
    assert outcome.get_attribute("data-status") == "invalid"
    assert "could not read it" in browser.find_element(By.ID, "message").text  # the stray lines are an error
    assert "<script>document.title='pwned'</script>" in browser.find_element(By.ID, "model-text").get_attribute("value")
    page.not_run()
    page.shot("09-binary")


def test_fol_premises_get_the_same_page(browser, replay_server, screenshots):
    page = Page(browser, replay_server, screenshots)
    Select(browser.find_element(By.ID, "target")).select_by_value("fol")
    browser.find_element(By.CSS_SELECTOR, "#own-model summary").click()
    page.set_text("own-text", "Dog(rex)\n∀x (Dog(x) → Animal(x))\n⊢ Animal(rex)")
    browser.find_element(By.ID, "own-solve").click()
    outcome = page.outcome_after(None)
    assert outcome.get_attribute("data-status") == "proved"
    assert "premises used" in browser.find_element(By.ID, "certificate").text
    page.shot("10-fol")


def test_a_python_word_problem_gets_the_same_page(browser, replay_server, screenshots, sandbox_available):
    page = Page(browser, replay_server, screenshots)
    page.set_text("problem", PENS)
    Select(browser.find_element(By.ID, "target")).select_by_value("python")
    browser.find_element(By.ID, "solve").click()
    outcome = page.outcome_after(None)
    assert outcome.get_attribute("data-status") == "computed"
    assert browser.find_element(By.ID, "headline").text == f"computed: {3 * 12 - 5}"
    assert "def solution" in browser.find_element(By.ID, "model-text").get_attribute("value")
    page.shot("11-python")
