"""Every card of a deck in Anki desktop's own reviewer, checked as the browser tests check pages.

Run as a program (`python -m tests.anki_reviewer DECK.apkg OUT.jsonl --widths 800 1200`), in a
process of
its own: Qt WebEngine starts threads, and the build the tests run forks. It imports the deck
into a new collection with the `anki` package, then shows each card the way Anki 26.9's
`aqt.reviewer.Reviewer` does: a real `AnkiWebView` holding the reviewer page that
`Reviewer._initWeb` builds (aqt's reviewer CSS and JavaScript, served by aqt's own media
server along with the collection's media), the card's text prepared by `Reviewer._mungeQA`,
and aqt's `_showQuestion` / `_showAnswer`, which typeset formulas with Anki's MathJax set-up.
What it leaves out is the main window around the page: the toolbar, the answer buttons, the
scheduler, audio.

Night mode is Anki's: the page's `night-mode` class and dark theme, and the body classes
`theme_manager` gives a card. For each card, side, mode and width it runs
`tests/card_checks.js` in the page and writes one JSON object a line to OUT per problem found:
`{"note": id, "ordinal": n, "side": "question"|"answer", "mode": ..., "width": ...,
"kind": ..., "message": ...}`, then a last line `{"checked": sides checked, "codeLines": lines
of code seen}`, both over every width and mode. (Qt and aqt
print to the standard streams: the findings go to a file of their own.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time anki.cards must follow anki.collection (a circular import)
    from anki.cards import CardId

CHECKS = (Path(__file__).parent / "card_checks.js").read_text(encoding="utf-8")
MODES = ("day", "night")
PAGE_TIMEOUT_S = 60.0
BATCH = 40  # cards per call into a page

# Shows each card of a batch, question then answer, and checks each side; sets `__results`.
# `_showQuestion` queues the work and returns nothing to wait on: the page sets #qa's opacity
# back to 1 once the card is drawn and its formulas typeset, so that is what is waited for.
RUN_BATCH = """
(function (cards, checks, nightMode) {
  window.__results = null;
  const qa = document.getElementById("qa");
  const check = eval("(" + checks + ")");
  // Drawn, formulas typeset (opacity back to 1), and every image loaded or failed, as a
  // reviewer would see the card a moment later.
  const loaded = (image) => image.complete || new Promise((resolve) => {
    image.addEventListener("load", resolve, {once: true});
    image.addEventListener("error", resolve, {once: true});
  });
  const shown = () => new Promise((resolve) => {
    const poll = () => (qa.style.opacity === "1" ? resolve() : setTimeout(poll, 5));
    poll();
  }).then(() => Promise.all([...document.images].map(loaded)));
  document.documentElement.classList.toggle("night-mode", nightMode);
  document.documentElement.dataset.bsTheme = nightMode ? "dark" : "light";
  (async () => {
    const results = [];
    for (const card of cards) {
      qa.style.opacity = "0";
      _showQuestion(card.question, card.answer, card.bodyclass);
      await shown();
      const question = await check(nightMode ? "night" : "day");
      qa.style.opacity = "0";
      _showAnswer(card.answer);
      await shown();
      const answer = await check(nightMode ? "night" : "day");
      results.push({question, answer});
    }
    window.__results = JSON.stringify(results);
  })().catch((error) => { window.__results = JSON.stringify({error: String(error)}); });
})
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deck", type=Path, help="the .apkg file to import and show")
    parser.add_argument("out", type=Path, help="where to write the findings, as JSON lines")
    parser.add_argument("--widths", type=int, nargs="+", default=[800, 1200])
    parser.add_argument("--screenshots", type=Path, help="a folder for screenshots of --sample")
    parser.add_argument(
        "--sample", nargs="*", default=[], help="cards (NOTE-ID.ORDINAL) to screenshot, answer side"
    )
    args = parser.parse_args(argv)
    # Offscreen Qt needs no display; root (as in CI) needs Chromium's own sandbox off.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
    with (
        tempfile.TemporaryDirectory(prefix="anki-reviewer-") as folder,
        args.out.open("w", encoding="utf-8") as out,
    ):

        def emit(finding: dict[str, Any]) -> None:
            out.write(json.dumps(finding) + "\n")

        sides, code_lines = _run(
            args.deck, args.widths, Path(folder), emit, args.screenshots, args.sample
        )
        emit({"checked": sides, "codeLines": code_lines})
    return 0


def _run(
    deck: Path,
    widths: Sequence[int],
    folder: Path,
    emit: Callable[[dict[str, Any]], None],
    screenshots: Path | None = None,
    sample: Sequence[str] = (),
) -> tuple[int, int]:
    import anki.lang
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    collection = Collection(str(folder / "collection.anki2"))
    collection.import_anki_package(
        ImportAnkiPackageRequest(package_path=str(deck), options=ImportAnkiPackageOptions())
    )
    anki.lang.set_lang("en_US")

    from aqt.qt import QApplication

    app = QApplication([sys.argv[0]])
    import aqt
    from aqt.main import AnkiQt
    from aqt.mediasrv import MediaServer
    from aqt.profiles import ProfileManager
    from aqt.reviewer import Reviewer
    from aqt.theme import theme_manager
    from aqt.webview import AnkiWebView

    # The parts of Anki's main window that the reviewer page and the media server read.
    main_window: Any = types.SimpleNamespace(app=app, col=collection)
    main_window.pm = ProfileManager(ProfileManager.get_created_base_folder(str(folder / "base")))
    main_window.pm.setupMeta()
    main_window.mediaServer = MediaServer(main_window)
    main_window.mediaServer.start()
    main_window.serverURL = lambda: f"http://127.0.0.1:{main_window.mediaServer.getPort()}/"
    main_window.baseHTML = lambda: f'<base href="{main_window.serverURL()}">'
    for method in ("prepare_card_text_for_display", "_add_play_buttons"):
        setattr(main_window, method, getattr(AnkiQt, method).__get__(main_window))
    main_window.bottomWeb = AnkiWebView()
    aqt.mw = main_window

    def open_reviewer(width: int, mode: str) -> Any:
        """A reviewer page as Anki shows it in `mode`, `width` px wide."""
        theme_manager.night_mode = mode == "night"
        main_window.web = AnkiWebView()
        main_window.web.resize(width, 900)
        reviewer = Reviewer(main_window)
        main_window.web.set_bridge_command(lambda command: None, reviewer)
        # The main-window half of `Reviewer._initWeb`, word for word (its other half draws the
        # answer buttons, which need a card under review).
        main_window.web.stdHtml(
            reviewer.revHtml(), css=["css/reviewer.css"], js=["js/reviewer.js"], context=reviewer
        )
        _wait(main_window.web, "typeof _showQuestion + typeof bridgeCommand === 'functionfunction'")
        return reviewer

    def prepared(reviewer: Any, card_id: CardId) -> dict[str, Any]:
        """A card's sides as `Reviewer._showQuestion` and `_showAnswer` hand them to the page."""
        card = collection.get_card(card_id)
        reviewer.card = card
        return {
            "note": card.note()["Id"],
            "ordinal": card.ord + 1,
            "question": reviewer._mungeQA(card.question()),
            "answer": reviewer._mungeQA(card.answer()),
            "bodyclass": theme_manager.body_classes_for_card_ord(card.ord),
        }

    card_ids = collection.find_cards("")
    checked = code_lines = 0
    for width in widths:
        for mode in MODES:
            reviewer = open_reviewer(width, mode)
            for start in range(0, len(card_ids), BATCH):
                shown = [prepared(reviewer, c) for c in card_ids[start : start + BATCH]]
                call = f"({RUN_BATCH})({json.dumps(shown)}, {json.dumps(CHECKS)}, "
                _evaluate(main_window.web, call + f"{json.dumps(mode == 'night')})")
                results = json.loads(_wait(main_window.web, "window.__results"))
                if isinstance(results, dict):
                    raise RuntimeError(f"the reviewer page failed: {results['error']}")
                for card_shown, sides in zip(shown, results, strict=True):
                    for side, result in sides.items():
                        checked += 1
                        code_lines += result["codeLines"]
                        for kind, message in result["problems"]:
                            emit(
                                {
                                    "note": card_shown["note"],
                                    "ordinal": card_shown["ordinal"],
                                    "side": side,
                                    "mode": mode,
                                    "width": width,
                                    "kind": kind,
                                    "message": message,
                                }
                            )
    if screenshots is not None:
        wanted = {(note, int(ordinal)) for note, ordinal in (s.rsplit(".", 1) for s in sample)}
        for mode in MODES:
            reviewer = open_reviewer(widths[0], mode)
            for card_id in card_ids:
                card = prepared(reviewer, card_id)
                if (card["note"], card["ordinal"]) in wanted:
                    call = f"({RUN_BATCH})({json.dumps([card])}, {json.dumps(CHECKS)}, "
                    _evaluate(main_window.web, call + f"{json.dumps(mode == 'night')})")
                    _wait(main_window.web, "window.__results")
                    _settle(main_window.web)
                    name = f"anki-{card['note']}.{card['ordinal']}.{mode}.png"
                    main_window.web.grab().save(str(screenshots / name))
    main_window.mediaServer.shutdown()
    collection.close()
    return checked, code_lines


def _settle(web: Any, seconds: float = 0.3) -> None:
    """Lets Qt draw what the page shows, so that a grab of the view is current."""
    from aqt.qt import QEventLoop, QTimer

    web.repaint()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _evaluate(web: Any, script: str) -> Any:
    """Runs `script` in the page; its value once Qt hands it back."""
    from aqt.qt import QEventLoop, QTimer

    loop = QEventLoop()
    result: dict[str, Any] = {}

    def done(value: Any) -> None:
        result["value"] = value
        loop.quit()

    web.page().runJavaScript(script, done)
    QTimer.singleShot(int(PAGE_TIMEOUT_S * 1000), loop.quit)
    loop.exec()
    return result.get("value")


def _wait(web: Any, expression: str) -> Any:
    """The value of `expression` in the page, once it is truthy."""
    from aqt.qt import QEventLoop, QTimer

    end = time.monotonic() + PAGE_TIMEOUT_S
    while time.monotonic() < end:
        value = _evaluate(web, expression)
        if value:
            return value
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    raise TimeoutError(f"the reviewer page never made {expression} true")


if __name__ == "__main__":
    sys.exit(main())
