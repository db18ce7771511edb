"""Every card of the whole deck in a real Chromium at a phone's size, by day and by night.

The deck's preview (`deckbuild preview`) holds a page per side of every card, exactly as Anki
fills it in. Each page is loaded on its own into a 360x800 frame (two frames at a time, in one
browser, served from 127.0.0.1) and checked inside the page by `card_checks.js`: the page never
scrolls sideways, text, code tokens and formulas reach a contrast of 4.5:1 against what they
are drawn on, no image is wider than the screen, each mode shows its own figure variant,
formulas are typeset, and text is large enough to read. Failures name the note, the card, the
side and the mode.

Debian's chromium is used as installed (`playwright install` downloads browsers: not used).
Screenshots of a sample of cards, by day and by night, are left in preview/screenshots/.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from builder.cli import main
from builder.load import load
from tests.conftest import MakeProject, Run

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
PHONE: ViewportSize = {"width": 360, "height": 800}
MODES = ("day", "night")
CHECKS = (Path(__file__).parent / "card_checks.js").read_text(encoding="utf-8")
pytestmark = pytest.mark.browser
FRAMES = 2  # pages checked at a time; more does not help on 2 cores
BATCH = 100  # pages per call into the browser

# Loads each page into a 360x800 frame of its own, runs the checks in it, by day then by night.
# A page that takes over PAGE_TIMEOUT_MS (a formula MathJax never finishes) is a "load" problem.
PAGE_TIMEOUT_MS = 20_000
RUN_CHECKS = """async ([pages, checks, frames, phone, limit]) => {
  const results = {};
  const queue = [...pages];
  async function worker() {
    const frame = document.createElement("iframe");
    frame.style = `width: ${phone.width}px; height: ${phone.height}px; border: 0; display: block`;
    document.body.append(frame);
    while (queue.length) {
      const page = queue.shift();
      const checked = (async () => {
        await new Promise((resolve) => { frame.onload = resolve; frame.src = page; });
        const check = frame.contentWindow.eval("(" + checks + ")");
        return {day: await check("day"), night: await check("night")};
      })();
      const late = new Promise((resolve) => setTimeout(
        () => resolve({day: [["load", `not loaded and checked within ${limit} ms`]], night: []}),
        limit));
      results[page] = await Promise.race([checked, late]);
    }
    frame.remove();
  }
  await Promise.all(Array.from({length: frames}, worker));
  return results;
}"""


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
class Finding:
    where: Side
    mode: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}, {self.mode}: {self.message}"


@pytest.fixture(scope="session")
def deck_preview(repo_copy: Path) -> Path:
    """The preview of the whole deck, written by the command a user runs."""
    assert main(["preview", "--project", str(repo_copy)]) == 0
    return repo_copy / "preview"


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
def findings(browser: Browser, server: str, sides: list[Side]) -> dict[str, list[Finding]]:
    """Every problem the checks find on every side of every card, in both modes, by kind."""
    host = browser.new_page(viewport={"width": 800, "height": 900})
    host.route(server + "check", lambda route: route.fulfill(body="<!doctype html><body>"))
    host.goto(server + "check")
    by_page = {side.page: side for side in sides}
    found: dict[str, list[Finding]] = defaultdict(list)
    checked = 0
    for start in range(0, len(sides), BATCH):
        pages = [side.page for side in sides[start : start + BATCH]]
        results = host.evaluate(RUN_CHECKS, [pages, CHECKS, FRAMES, PHONE, PAGE_TIMEOUT_MS])
        for page, modes in results.items():
            checked += 1
            for mode, problems in modes.items():
                for kind, message in problems:
                    found[kind].append(Finding(by_page[page], mode, kind, message))
    host.close()
    assert checked == len(sides)
    return found


def report(findings: list[Finding]) -> str:
    lines = [str(f) for f in findings[:40]]
    more = len(findings) - len(lines)
    return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))


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


def test_every_card_page_loads_and_is_checked(findings: dict[str, list[Finding]]) -> None:
    assert not findings["load"], report(findings["load"])


def test_every_card_turns_to_night_mode_as_anki_does(findings: dict[str, list[Finding]]) -> None:
    assert not findings["mode"], report(findings["mode"])


def test_no_card_scrolls_sideways_on_a_phone(findings: dict[str, list[Finding]]) -> None:
    assert not findings["sideways"], report(findings["sideways"])


def test_text_code_and_formulas_reach_a_contrast_of_4_5_to_1(
    findings: dict[str, list[Finding]],
) -> None:
    assert not findings["contrast"], report(findings["contrast"])


def test_every_image_loads_and_fits_the_screen(findings: dict[str, list[Finding]]) -> None:
    assert not findings["image"], report(findings["image"])


def test_each_mode_shows_its_own_variant_of_a_figure(findings: dict[str, list[Finding]]) -> None:
    assert not findings["figure"], report(findings["figure"])


def test_every_formula_is_typeset_without_network(findings: dict[str, list[Finding]]) -> None:
    assert not findings["math"], report(findings["math"])


def test_text_is_large_enough_to_read(findings: dict[str, list[Finding]]) -> None:
    assert not findings["size"], report(findings["size"])


def test_the_source_line_is_shown_in_full_legibly_by_day_and_night(
    findings: dict[str, list[Finding]],
) -> None:
    # Its contrast and size are checked with all text (test_text_..., above).
    assert not findings["source"], report(findings["source"])


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


def test_the_checks_find_what_they_look_for(phone: Page, server: str) -> None:
    # A page with one of each problem, styled like a card: the checks must name every one.
    wide_line = "x = 1  " * 80
    broken = f"""<!doctype html><html><head><link rel="stylesheet" href="cards/card.css">
        <style>.faint {{ color: #bbbbbb }} pre.wide {{ overflow: visible }}
        .tiny {{ font-size: 10px }}</style>
        <script src="cards/mathjax.js" defer></script></head>
        <body class="card card1"><div id="qa">
        <p class="faint">Grey on white.</p>
        <pre class="wide">{wide_line}</pre>
        <img src="missing.png" style="max-width: none; width: 900px; height: 10px">
        <img class="figure figure-light" src="missing.png" style="display: none">
        <p class="tiny">Small print.</p>
        <div class="source" style="color: #c0c0c0; font-size: 12px">Source: a faint line</div>
        <div class="source" style="display: none">Source: hidden</div>
        <p>A fraction without its denominator: \\(\\frac{{1}}\\)</p>
        </div></body></html>"""
    phone.route(server + "broken", lambda route: route.fulfill(body=broken))
    phone.goto(server + "broken")
    by_day = phone.evaluate(CHECKS, "day")
    assert {kind for kind, _ in by_day} == {
        "sideways",
        "contrast",
        "image",
        "figure",
        "size",
        "math",
        "source",
    }, by_day
    assert any("Grey on white" in message and "1.9" in message for _, message in by_day)
    assert any("a faint line" in message for kind, message in by_day if kind == "contrast")
    assert any("a faint line" in message for kind, message in by_day if kind == "size")
    assert [m for kind, m in by_day if kind == "source"] == [
        'the source line "Source: hidden" (div.source) is not shown in full'
    ]
    # The page has no night switch: asking for night mode must fail.
    assert "mode" in {kind for kind, _ in phone.evaluate(CHECKS, "night")}


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
    from PIL import Image

    root = make_project({"source/stress.yaml": WIDE_NOTES})
    (root / "source" / "media").mkdir()
    Image.new("RGB", (1600, 40), "white").save(root / "source" / "media" / "wide.png")
    run = deckbuild(root, "preview")
    assert run.status == 0, run.err
    page = (root / "preview" / "cards" / "wide-everything.1.answer.html").as_uri()
    for mode in MODES:
        phone.goto(page)
        assert phone.evaluate(CHECKS, mode) == [], mode
    widths = phone.evaluate(
        "[...document.querySelectorAll('table, pre, img')].map(e => e.scrollWidth)"
    )
    assert max(widths) > PHONE["width"]  # the content is wide: it scrolls inside its block


def test_the_index_finds_cards_by_tag_and_text_and_switches_to_night(
    phone: Page, deck_preview: Path, repo_copy: Path
) -> None:
    phone.set_viewport_size({"width": 1200, "height": 800})
    phone.goto((deck_preview / "index.html").as_uri())
    # Tagged, not only live: a retired code note keeps its tags, and its notice is a card too.
    code_notes = [n for n in load(repo_copy).notes if "kind::code" in n.tags]
    phone.fill("#search", "tag:kind::code")
    assert phone.locator("#cards li:visible").count() == len(code_notes)
    phone.fill("#search", f"tag:kind::code {code_notes[0].id}")
    assert phone.locator("#cards li:visible").count() == 1
    phone.locator("#cards li:visible a.answer").click()
    phone.click("#mode")
    frame = phone.locator("iframe")
    assert frame.get_attribute("src") == f"cards/{code_notes[0].id}.1.answer.html#night"
    card = phone.frame_locator("iframe").locator("body")
    assert "nightMode" in (card.get_attribute("class") or "")
    assert card.locator(".highlight").count() == 1


def test_screenshots_of_a_sample_of_cards(
    phone: Page, server: str, sides: list[Side], repo_copy: Path
) -> None:
    """Leaves day and night screenshots of a dozen cards for a person to look at."""
    notes = load(repo_copy).notes
    wanted = {
        next((n.id for n in notes if n.code), None),  # highlighted code
        next((n.id for n in notes if n.figure), None),  # a figure, day and night variants
        next((n.id for n in notes if n.kind == "cloze"), None),
        next((n.id for n in notes if "$$" in n.back), None),  # display math
    }
    answers = [s for s in sides if s.side == "answer"]
    chosen = [s for s in answers if s.note_id in wanted and s.ordinal == 1]
    sample = list(dict.fromkeys([*chosen, *answers[:: len(answers) // 12]]))[:12]
    # Beside the session's copy of the deck in pytest's temporary folder, never in the checkout.
    shots = repo_copy / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    for side in sample:
        for mode in MODES:
            phone.goto(server + side.page + ("#night" if mode == "night" else ""))
            phone.evaluate("async () => window.MathJax && MathJax.startup.promise")
            shot = shots / f"{side.note_id}.{side.ordinal}.{mode}.png"
            phone.screenshot(path=shot, full_page=True)
            assert shot.stat().st_size > 1000
    assert len(list(shots.glob("*.png"))) == 2 * len(sample) == 2 * 12
