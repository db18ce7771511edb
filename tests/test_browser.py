"""Every card of the whole deck in each engine Anki users review in, at their widths, by day
and by night.

| engine | who reviews in it | driven here through | widths |
| --- | --- | --- | --- |
| Chromium | AnkiDroid (Android's WebView) | Debian's `chromium`, Playwright | 360 |
| WebKit | AnkiMobile (iOS's WKWebView) | Debian's WebKitGTK WebDriver, Xvfb, selenium | 360, 320 |
| Qt WebEngine | Anki desktop, its reviewer | aqt 26.9, PyQt6-WebEngine, offscreen | 800, 1200 |

Chromium and WebKit load the preview's page for each side of each card (`deckbuild preview`
writes exactly what Anki shows), many frames per page load, each frame as wide as the phone
(WebKitGTK's window will not shrink below about 450 px; media queries follow the frame). The
desktop pass imports the built deck into a real collection and shows every card in Anki's
reviewer (`tests/anki_reviewer.py`, in a process of its own). In every pass `card_checks.js`
runs in the page: no sideways page scroll, text, code tokens, formulas and the source line at
4.5:1 contrast or more, images within the screen and not past their natural size, each mode's
own figure, formulas typeset, text large enough, no line of code past the edge of its block on
a phone, no line of prose past 80 characters. Failures name the note, the card, the side, the
mode and the engine. A missing engine fails these tests; it never skips them.

Screenshots of a dozen cards from each engine, day and night, are left for a person to look at
beside the session's copy of the deck (`screenshots/` in pytest's temporary folder).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.webkitgtk.service import Service as WebKitService

from builder.cli import main
from builder.load import load
from tests.conftest import REPO, MakeProject, Run, processes

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"
FULL_DECK = "cv-interview-prep.apkg"  # the recipe that holds every note
PHONE: ViewportSize = {"width": 360, "height": 800}
MODES = ("day", "night")
CHECKS = (Path(__file__).parent / "card_checks.js").read_text(encoding="utf-8")
FRAMES = 2  # pages checked at a time; more does not help on 2 cores
BATCH = 100  # pages per call into the browser
HOST = "host.html"  # an empty page beside the cards, whose frames load them

# Loads each page into a frame as wide as the screen, runs the checks in it, by day, then by
# night as the preview turns it on (`#night` puts Anki's classes on the body). A page that
# takes over `limit` ms (a formula MathJax never finishes) is a "load" problem.
RUN_CHECKS = """async ([pages, checks, frames, width, limit]) => {
  const results = {};
  const queue = [...pages];
  const none = {problems: [], code: [], codeLines: 0};
  async function worker() {
    const frame = document.createElement("iframe");
    frame.style = `width: ${width}px; height: 800px; border: 0; display: block`;
    document.body.append(frame);
    while (queue.length) {
      const page = queue.shift();
      const checked = (async () => {
        await new Promise((resolve) => { frame.onload = resolve; frame.src = page; });
        const view = frame.contentWindow;
        const check = view.eval("(" + checks + ")");
        const day = await check("day");
        await new Promise((resolve) => {
          view.addEventListener("hashchange", resolve, {once: true});
          view.location.hash = "night";
        });
        return {day, night: await check("night")};
      })();
      const late = new Promise((resolve) => setTimeout(() => resolve({
        day: {...none, problems: [["load", `not loaded and checked within ${limit} ms`]]},
        night: none}), limit));
      results[page] = await Promise.race([checked, late]);
    }
    frame.remove();
  }
  await Promise.all(Array.from({length: frames}, worker));
  return results;
}"""
PAGE_TIMEOUT_MS = 20_000
BATCH_TIMEOUT_S = 240  # a batch takes 5 to 60 s; past this, WebKit's web process is stuck
SESSION_TIMEOUT_S = 60  # a WebKit session starts in about a second


@dataclass(frozen=True)
class Side:
    """One side of one card, as the preview wrote it."""

    note_id: str
    ordinal: int
    side: str
    page: str  # relative to the preview folder

    def __str__(self) -> str:
        return f"{self.note_id} (card {self.ordinal}, {self.side})"


@dataclass(frozen=True)
class Pass:
    """One engine at one width: what a group of users sees."""

    engine: str
    width: int

    def __str__(self) -> str:
        return f"{self.engine}-{self.width}"


PASSES = (
    Pass("chromium", 360),
    Pass("webkit", 360),
    Pass("webkit", 320),
    Pass("anki", 800),
    Pass("anki", 1200),
)


@dataclass(frozen=True)
class Finding:
    where: str
    mode: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}, {self.mode}: {self.message}"


@dataclass
class Checked:
    """What one pass over every card side found."""

    where: Pass
    sides: int = 0  # card sides checked, counting day and night once each
    code_lines: int = 0  # lines of code seen on the cards (each side, day and night)
    findings: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    copied: dict[str, str] = field(default_factory=dict)  # note id -> code copied off its card

    def report(self, kind: str) -> str:
        found = self.findings[kind]
        lines = [f"[{self.where}] {f}" for f in found[:40]]
        more = len(found) - len(lines)
        return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))

    def add(self, where: str, mode: str, result: dict[str, Any]) -> None:
        for kind, message in result["problems"]:
            self.findings[kind].append(Finding(where, mode, kind, message))
        self.code_lines += result["codeLines"]


# --- the preview's pages, for Chromium and WebKit --------------------------------------------


@pytest.fixture(scope="session")
def deck_preview(repo_copy: Path) -> Path:
    """The preview of the whole deck, written by the command a user runs."""
    assert main(["preview", "--project", str(repo_copy)]) == 0
    folder = repo_copy / "preview"
    (folder / HOST).write_text("<!doctype html><body style='margin: 0'>", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def sides(deck_preview: Path) -> list[Side]:
    found = []
    for page in sorted((deck_preview / "cards").glob("*.html")):
        note_id, ordinal, side, _ = page.name.split(".")
        found.append(Side(note_id, int(ordinal), side, f"cards/{page.name}"))
    return found


@pytest.fixture(scope="session")
def server(deck_preview: Path) -> Iterator[str]:
    """The preview folder over HTTP on 127.0.0.1, so the checks may reach into each frame."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(deck_preview))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as http:
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{http.server_address[1]}/"
        http.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport=PHONE)
    yield page
    page.close()


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A virtual X display of our own for WebKitGTK, which draws into a window."""
    xvfb = subprocess.Popen(
        [XVFB, "-displayfd", "1", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert xvfb.stdout is not None
    number = xvfb.stdout.readline().decode().strip()
    assert number.isdigit(), f"Xvfb did not start: {number!r}"
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait()
    xvfb.stdout.close()


OpenWebKit = Callable[[], webdriver.WebKitGTK]


def kill_webkit(service: WebKitService) -> None:
    """Kills the WebKit driver with the browser and the web process it started.

    They share the driver's process group (its session: see `open_webkit`). Killing the driver
    alone left a web process that spins forever behind, taking one and a half cores from the
    rest of the test run and outliving it."""
    if service.process is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def stopped_after(service: WebKitService, seconds: float) -> Iterator[None]:
    """Kills the WebKit driver, browser and web process if the block runs longer than `seconds`,
    so that a call waiting on them fails instead of waiting forever: WebKitGTK's driver now and
    then waits without end for a browser that never answers, and its web process now and then
    spins forever."""
    timer = threading.Timer(seconds, kill_webkit, [service])
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture(scope="session")
def open_webkit(display: str) -> Iterator[OpenWebKit]:
    """Opens a new WebKit session (a driver and a browser of its own); all close at the end."""
    opened: list[webdriver.WebKitGTK] = []

    def open_session() -> webdriver.WebKitGTK:
        env = {**os.environ, "DISPLAY": display}
        # A session of its own, so that one signal to its group ends the browser it starts too.
        service = WebKitService(
            executable_path=WEBKIT_DRIVER, env=env, popen_kw={"start_new_session": True}
        )
        with stopped_after(service, SESSION_TIMEOUT_S), warnings.catch_warnings():
            # selenium 4.5x's own WebKitGTK driver still passes a deprecated argument to its
            # connection class; nothing for us to change.
            warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
            driver = webdriver.WebKitGTK(service=service)
        driver.set_script_timeout(BATCH_TIMEOUT_S)
        opened.append(driver)
        return driver

    yield open_session
    for driver in opened:
        with contextlib.suppress(Exception):
            driver.quit()
        kill_webkit(driver.service)  # whatever `quit` left: nothing outlives the test run


def check_pages(
    evaluate: Callable[[list[Any]], dict[str, Any]], where: Pass, sides: list[Side]
) -> Checked:
    """Runs the checks over every side, BATCH pages per call into the engine."""
    checked = Checked(where)
    by_page = {side.page: side for side in sides}
    for start in range(0, len(sides), BATCH):
        pages = [side.page for side in sides[start : start + BATCH]]
        results = evaluate([pages, CHECKS, FRAMES, where.width, PAGE_TIMEOUT_MS])
        for page, modes in results.items():
            side = by_page[page]
            checked.sides += 1
            for mode, result in modes.items():
                checked.add(str(side), mode, result)
            if side.side == "answer" and modes["day"]["code"]:
                (checked.copied[side.note_id],) = modes["day"]["code"]
    return checked


def in_chromium(browser: Browser, server: str, where: Pass, sides: list[Side]) -> Checked:
    host = browser.new_page(viewport={"width": 800, "height": 900})
    host.goto(server + HOST)
    try:
        return check_pages(lambda args: host.evaluate(RUN_CHECKS, args), where, sides)
    finally:
        host.close()


def in_webkit(open_session: OpenWebKit, server: str, where: Pass, sides: list[Side]) -> Checked:
    call = f"const done = arguments[arguments.length - 1];({RUN_CHECKS})(arguments[0]).then(done);"
    session = [open_session()]

    def evaluate(args: list[Any]) -> dict[str, Any]:
        # A fresh host page for each batch: WebKitGTK keeps what every frame of a page ever
        # loaded, and a whole deck in one page grew its web process past 7 GB. A batch whose
        # browser hangs (see stopped_after) is tried once more in a new session.
        for attempt in (1, 2):
            driver = session[0]
            try:
                with stopped_after(driver.service, BATCH_TIMEOUT_S + 30):
                    driver.get(server + HOST)
                    result: dict[str, Any] = driver.execute_async_script(call, args)
                return result
            # Whatever a killed driver or a stuck script raises (selenium's errors, a closed
            # connection): the second time it is the test's error.
            except Exception:
                if attempt == 2:
                    raise
                with contextlib.suppress(Exception):
                    driver.quit()
                kill_webkit(driver.service)
                session[0] = open_session()
        raise AssertionError("unreachable")

    return check_pages(evaluate, where, sides)


def sample_cards(repo: Path) -> list[tuple[str, int]]:
    """A dozen cards to look at: code, a figure, a cloze, display math, and a spread of the rest."""
    notes = [n for n in load(repo).notes if "deck::retired" not in n.tags]
    wanted = [
        next(n for n in notes if n.code),
        next(n for n in notes if n.figure),
        next(n for n in notes if n.kind == "cloze"),
        next(n for n in notes if "$$" in n.back),
    ]
    chosen = [note.id for note in [*wanted, *notes[:: len(notes) // 8]]]
    return [(note_id, 1) for note_id in list(dict.fromkeys(chosen))[:12]]


def screenshots_folder(repo: Path) -> Path:
    """Beside the session's copy of the deck in pytest's temporary folder, never the checkout."""
    folder = repo / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


# --- Anki desktop's reviewer ----------------------------------------------------------------


@pytest.fixture(scope="session")
def in_anki_reviewer(
    built_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Checked]:
    """Every card of the whole deck in Anki's reviewer, at each desktop width of PASSES."""
    widths = [p.width for p in PASSES if p.engine == "anki"]
    out = tmp_path_factory.mktemp("anki-reviewer") / "findings.jsonl"
    program = [sys.executable, "-m", "tests.anki_reviewer", str(built_repo / "dist" / FULL_DECK)]
    shots = ["--screenshots", str(screenshots_folder(built_repo)), "--sample"]
    shots += [f"{note}.{ordinal}" for note, ordinal in sample_cards(built_repo)]
    run = subprocess.run(
        [*program, str(out), "--widths", *map(str, widths), *shots],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    checked = {width: Checked(Pass("anki", width)) for width in widths}
    for line in out.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "checked" in entry:  # the last line: totals over every width and mode
            for width in widths:
                checked[width].sides = entry["checked"] // len(widths) // len(MODES)
                checked[width].code_lines = entry["codeLines"] // len(widths)
            continue
        where = f"{entry['note']} (card {entry['ordinal']}, {entry['side']})"
        checked[entry["width"]].add(
            where, entry["mode"], {"problems": [[entry["kind"], entry["message"]]], "codeLines": 0}
        )
    return checked


@pytest.fixture(scope="session", params=PASSES, ids=str)
def checked(request: pytest.FixtureRequest) -> Checked:
    """Every side of every card of the deck, checked in one engine at one width."""
    where: Pass = request.param
    if where.engine == "anki":
        result: Checked = request.getfixturevalue("in_anki_reviewer")[where.width]
        return result
    sides = request.getfixturevalue("sides")
    server = request.getfixturevalue("server")
    if where.engine == "chromium":
        return in_chromium(request.getfixturevalue("browser"), server, where, sides)
    return in_webkit(request.getfixturevalue("open_webkit"), server, where, sides)


# --- what every pass must show ----------------------------------------------------------------


def test_the_preview_holds_both_sides_of_every_card_of_the_deck(
    repo_copy: Path, sides: list[Side]
) -> None:
    notes = load(repo_copy).notes
    expected = {(n.id, 1) for n in notes if n.kind == "basic"} | {
        (n.id, int(number))
        for n in notes
        if n.kind == "cloze"
        for number in re.findall(r"\{\{c(\d+)::", n.cloze)
    }
    assert {(s.note_id, s.ordinal) for s in sides if s.side == "question"} == expected
    assert {(s.note_id, s.ordinal) for s in sides if s.side == "answer"} == expected


def test_every_side_of_every_card_is_checked(checked: Checked, sides: list[Side]) -> None:
    assert checked.sides == len(sides)
    assert not checked.findings["load"], checked.report("load")


def test_every_card_turns_to_night_mode_as_anki_does(checked: Checked) -> None:
    assert not checked.findings["mode"], checked.report("mode")


def test_no_card_scrolls_sideways(checked: Checked) -> None:
    assert not checked.findings["sideways"], checked.report("sideways")


def test_text_code_and_formulas_reach_a_contrast_of_4_5_to_1(checked: Checked) -> None:
    assert not checked.findings["contrast"], checked.report("contrast")


def test_every_image_loads_and_fits_the_screen(checked: Checked) -> None:
    assert not checked.findings["image"], checked.report("image")


def test_no_figure_is_blown_up_past_its_natural_size(checked: Checked) -> None:
    assert not checked.findings["blowup"], checked.report("blowup")


def test_each_mode_shows_its_own_variant_of_a_figure(checked: Checked) -> None:
    assert not checked.findings["figure"], checked.report("figure")


def test_every_formula_is_typeset_without_network(checked: Checked) -> None:
    assert not checked.findings["math"], checked.report("math")


def test_text_is_large_enough_to_read(checked: Checked) -> None:
    assert not checked.findings["size"], checked.report("size")


def test_the_source_line_is_shown_in_full(checked: Checked) -> None:
    # Its contrast and size are checked with all text (test_text_..., above).
    assert not checked.findings["source"], checked.report("source")


def test_no_line_of_prose_is_longer_than_a_comfortable_measure(checked: Checked) -> None:
    assert not checked.findings["measure"], checked.report("measure")


def test_no_line_of_code_runs_past_its_block_on_a_phone(checked: Checked, repo_copy: Path) -> None:
    assert not checked.findings["code"], checked.report("code")
    # Every line of answer code was seen, by day and by night (and fenced text besides).
    lines = sum(len(n.code.splitlines()) for n in load(repo_copy).notes if n.code)
    assert checked.code_lines >= 2 * lines


@pytest.mark.parametrize("checked", [p for p in PASSES if p.width < 600], indirect=True, ids=str)
def test_copying_the_code_off_a_card_gives_the_verified_code(
    checked: Checked, repo_copy: Path
) -> None:
    # On a phone, where the lines wrap: the wrapping must not change what is copied.
    code = {n.id: n.code for n in load(repo_copy).notes if n.code}
    assert checked.copied.keys() == code.keys()
    # A selection that ends at the end of a block leaves out the block's last line break.
    assert {k: v.rstrip("\n") for k, v in checked.copied.items()} == {
        k: v.rstrip("\n") for k, v in code.items()
    }


def test_every_sourced_note_names_its_sources_on_the_back_and_never_on_the_front(
    repo_copy: Path, deck_preview: Path, sides: list[Side]
) -> None:
    sourced = {n.id for n in load(repo_copy).notes if n.sources}
    wrong = [
        str(side)
        for side in sides
        if ('class="source"' in (deck_preview / side.page).read_text(encoding="utf-8"))
        != (side.side == "answer" and side.note_id in sourced)
    ]
    assert wrong == []


# --- the checks themselves, and the CSS on content the deck may not hold today ----------------


def test_the_checks_find_what_they_look_for(phone: Page, server: str, deck_preview: Path) -> None:
    # A page with one of each problem, styled like a card: the checks must name every one.
    wide_line = "x = 1  " * 80
    prose = "A line of prose that goes on and on. " * 20
    broken = f"""<!doctype html><html><head><link rel="stylesheet" href="cards/card.css">
        <style>.faint {{ color: #bbbbbb }} pre.wide {{ overflow: visible }}
        .tiny {{ font-size: 10px }} .wide-prose {{ width: 1400px }}</style>
        <script src="cards/mathjax.js" defer></script></head>
        <body class="card card1"><div id="qa">
        <p class="faint">Grey on white.</p>
        <pre class="wide">{wide_line}</pre>
        <div class="highlight"><pre style="white-space: pre"><span class="line">{wide_line}
        </span></pre></div>
        <img src="missing.png" style="max-width: none; width: 900px; height: 10px">
        <img class="figure figure-light" src="missing.png" style="display: none">
        <img src="cards/{{figure}}" style="max-width: none; width: 2000px">
        <p class="tiny">Small print.</p>
        <p class="wide-prose">{prose}</p>
        <div class="source" style="color: #c0c0c0; font-size: 12px">Source: a faint line</div>
        <div class="source" style="display: none">Source: hidden</div>
        <p>A fraction without its denominator: \\(\\frac{{1}}\\)</p>
        </div></body></html>"""
    figure = next((deck_preview / "cards").glob("fig-*.png")).name
    broken = broken.replace("{figure}", figure)
    phone.route(server + "broken", lambda route: route.fulfill(body=broken))
    phone.goto(server + "broken")
    by_day = phone.evaluate(CHECKS, "day")["problems"]
    assert {kind for kind, _ in by_day} == {
        "sideways",
        "contrast",
        "image",
        "blowup",
        "figure",
        "size",
        "math",
        "source",
        "code",
        "measure",
    }, by_day
    assert any("Grey on white" in message and "1.9" in message for _, message in by_day)
    assert any("a faint line" in message for kind, message in by_day if kind == "contrast")
    assert any("a faint line" in message for kind, message in by_day if kind == "size")
    assert [m for kind, m in by_day if kind == "source"] == [
        'the source line "Source: hidden" (div.source) is not shown in full'
    ]
    assert any("A line of prose" in m for kind, m in by_day if kind == "measure")
    # The page has no night switch: asking for night mode must fail.
    assert "mode" in {kind for kind, _ in phone.evaluate(CHECKS, "night")["problems"]}


WIDE_NOTES = r"""
    deck: Stress
    notes:
      - id: wide-everything
        front: "Does `a_very_long_identifier_that_cannot_break_anywhere_at_all_on_a_phone` fit?"
        back: |
          Wider than a phone: $W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2) + c$.

          $$\sum_{i=1}^{n} \sum_{j=1}^{m} \left( a_{ij} x_i y_j + b_{ij} x_i + c_{ij} y_j \right)$$

          | stage | input size | output size | channels | kernel | stride | padding |
          | --- | --- | --- | --- | --- | --- | --- |
          | convolution_block_one | 224x224x3 | 112x112x64 | 64 | 7x7 | 2 | 3 |

          ```text
          a line of illustrative text that is much longer than any phone screen is wide, and more
          ```

          ![a wide picture](wide.png)
"""


def test_the_card_css_fits_wide_content_on_a_phone(
    make_project: MakeProject, deckbuild: Callable[..., Run], phone: Page
) -> None:
    # The deck may not hold every kind of wide content today; the CSS must fit each anyway.

    root = make_project({"source/stress.yaml": WIDE_NOTES})
    (root / "source" / "media").mkdir()
    Image.new("RGB", (1600, 40), "white").save(root / "source" / "media" / "wide.png")
    run = deckbuild(root, "preview")
    assert run.status == 0, run.err
    page = (root / "preview" / "cards" / "wide-everything.1.answer.html").as_uri()
    for mode in MODES:
        phone.goto(page + ("#night" if mode == "night" else ""))
        assert phone.evaluate(CHECKS, mode)["problems"] == [], mode
    widths = phone.evaluate(
        "[...document.querySelectorAll('table, pre, img')].map(e => e.scrollWidth)"
    )
    assert max(widths) > PHONE["width"]  # the content is wide: it scrolls inside its block


def test_the_index_finds_cards_by_tag_and_text_and_switches_to_night(
    phone: Page, deck_preview: Path, repo_copy: Path
) -> None:
    phone.set_viewport_size({"width": 1200, "height": 800})
    phone.goto((deck_preview / "index.html").as_uri())
    # Retired code notes keep their tags (kind::code included), as their notices do in Anki.
    code_notes = [n for n in load(repo_copy).notes if "kind::code" in n.tags]
    answered = next(n for n in code_notes if n.code)
    phone.fill("#search", "tag:kind::code")
    assert phone.locator("#cards li:visible").count() == len(code_notes)
    phone.fill("#search", f"tag:kind::code {answered.id}")
    assert phone.locator("#cards li:visible").count() == 1
    phone.locator("#cards li:visible a.answer").click()
    phone.click("#mode")
    frame = phone.locator("iframe")
    assert frame.get_attribute("src") == f"cards/{answered.id}.1.answer.html#night"
    card = phone.frame_locator("iframe").locator("body")
    assert "nightMode" in (card.get_attribute("class") or "")
    assert card.locator(".highlight").count() == 1


def test_screenshots_of_a_dozen_cards_in_each_engine(
    phone: Page,
    open_webkit: OpenWebKit,
    server: str,
    repo_copy: Path,
    in_anki_reviewer: dict[int, Checked],
) -> None:
    """Leaves day and night screenshots of the same dozen answers from each engine."""
    shots = screenshots_folder(repo_copy)
    sample = sample_cards(repo_copy)
    webkit = open_webkit()
    with stopped_after(webkit.service, BATCH_TIMEOUT_S):
        take_screenshots(phone, webkit, server, shots, sample)
    # The reviewer program took its own while it checked the deck (in_anki_reviewer).
    for engine in ("chromium", "webkit", "anki"):
        taken = sorted(shots.glob(f"{engine}-*.png"))
        assert len(taken) == 2 * len(sample) == 2 * 12, (engine, taken)
        assert all(shot.stat().st_size > 5000 for shot in taken), engine


def test_a_stopped_webkit_session_leaves_no_process_behind(open_webkit: OpenWebKit) -> None:
    # How the watchdog (stopped_after) ends a session that hangs: the browser and its web
    # process, started by the driver, go with it, or one spins on through the rest of the run.
    driver = open_webkit()
    assert driver.service.process is not None
    group = driver.service.process.pid
    assert len(live_members(group)) >= 3  # the driver, the browser and its web process

    kill_webkit(driver.service)

    deadline = time.monotonic() + 10
    while live_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_members(group) == []


def live_members(group: int) -> list[int]:
    """The processes of a process group that are still running (zombies are over)."""
    return [pid for pid, state, _, pgrp in processes() if pgrp == group and state != "Z"]


def take_screenshots(
    phone: Page,
    webkit: webdriver.WebKitGTK,
    server: str,
    shots: Path,
    sample: list[tuple[str, int]],
) -> None:
    for note, ordinal in sample:
        for mode in MODES:
            page = f"{server}cards/{note}.{ordinal}.answer.html" + (
                "#night" if mode == "night" else ""
            )
            phone.goto(page)
            phone.evaluate("async () => window.MathJax && MathJax.startup.promise")
            phone.screenshot(path=shots / f"chromium-{note}.{ordinal}.{mode}.png", full_page=True)
            webkit.get(server + HOST)
            webkit.execute_async_script(
                """const [page, done] = arguments;
                const frame = document.createElement("iframe");
                frame.id = "shot";
                frame.style = "width: 360px; height: 800px; border: 0; display: block";
                frame.onload = async () => {
                  const view = frame.contentWindow;
                  if (view.MathJax && view.MathJax.startup) await view.MathJax.startup.promise;
                  // Two frames later the page is painted: WebKit's window capture is not
                  // blank.
                  view.requestAnimationFrame(() => view.requestAnimationFrame(() => done()));
                };
                frame.src = page;
                document.body.append(frame);""",
                page,
            )
            # WebKitGTK draws an element screenshot of a frame blank: crop the window's instead.
            box = webkit.find_element(By.ID, "shot").rect
            window = Image.open(io.BytesIO(webkit.get_screenshot_as_png()))
            bottom = min(box["y"] + box["height"], window.height)  # the window may be shorter
            frame = (box["x"], box["y"], box["x"] + box["width"], bottom)
            window.crop(frame).save(shots / f"webkit-{note}.{ordinal}.{mode}.png")
