"""The preview: a page per side of every card, as Anki shows it, with an index to browse them."""

from __future__ import annotations

import base64
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.notetypes import card_css
from tests.conftest import MakeProject, Run

Deckbuild = Callable[..., Run]

NOTES = r"""
    deck: Detection
    tags: [topic::detection]
    notes:
      - id: iou-touching
        sources: [Fixture 2026]
        front: What is the IoU of two boxes that only touch?
        back: |
          Zero: $\mathrm{IoU} = 0 / |A \cup B|$.

          ![two boxes](boxes.png)
        level: easy
      - id: nms-cloze
        sources: [Fixture 2026]
        cloze: |
          NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a
          {{c2::threshold::a number}}.
        level: medium
"""
RECIPES = {
    "decks/all.yaml": "name: Everything\n",
    "decks/easy.yaml": "name: Easy Ones\ninclude: level::easy\n",
}
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    root = make_project({"source/detection.yaml": NOTES, **RECIPES}, recipe=False)
    (root / "source" / "media").mkdir()
    (root / "source" / "media" / "boxes.png").write_bytes(PIXEL)
    return root


def pages(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "preview" / "cards").glob("*.html"))


def test_each_card_gets_a_question_page_and_an_answer_page(
    project: Path, deckbuild: Deckbuild
) -> None:
    run = deckbuild(project, "preview")
    assert run.status == 0, run.err
    assert "wrote 3 cards of 2 notes and 1 media files" in run.out
    assert f"open {project / 'preview' / 'index.html'} in a browser" in run.out
    assert pages(project) == [
        "iou-touching.1.answer.html",
        "iou-touching.1.question.html",
        "nms-cloze.1.answer.html",
        "nms-cloze.1.question.html",
        "nms-cloze.2.answer.html",
        "nms-cloze.2.question.html",
    ]


def test_a_page_holds_the_card_as_anki_renders_it(project: Path, deckbuild: Deckbuild) -> None:
    assert deckbuild(project, "preview").status == 0
    cards = project / "preview" / "cards"
    question = (cards / "nms-cloze.2.question.html").read_text()
    # Anki's page: the note type's CSS, the card number on the body, the card inside #qa.
    assert '<link rel="stylesheet" href="card.css">' in question
    assert '<body class="card card2">' in question
    assert re.search(r'<div id="qa">\s*<div class="front"><p>NMS drops', question)
    assert '<span class="cloze-inactive" data-ordinal="1">IoU</span>' in question
    assert 'data-ordinal="2">[a number]</span>' in question
    answer = (cards / "nms-cloze.2.answer.html").read_text()
    assert '<span class="cloze" data-ordinal="2">threshold</span>' in answer
    basic = (cards / "iou-touching.1.answer.html").read_text()
    assert '<hr id="answer">' in basic and '<img alt="two boxes" src="boxes.png"' in basic
    assert (cards / "card.css").read_text() == card_css()
    assert (cards / "boxes.png").read_bytes() == PIXEL


def test_pages_need_no_network_and_typeset_formulas_with_a_local_mathjax(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "preview").status == 0
    folder = project / "preview"
    written = [folder / "index.html", *(folder / "cards").glob("*.html")]
    for page in written:
        assert not re.search(r"(src|href)=\"(https?:)?//", page.read_text()), page.name
    with_math = (folder / "cards" / "iou-touching.1.answer.html").read_text()
    assert '<script src="mathjax.js" defer></script>' in with_math
    assert (folder / "cards" / "mathjax.js").stat().st_size > 100_000
    assert "mathjax.js" not in (folder / "cards" / "nms-cloze.1.answer.html").read_text()


def test_night_mode_is_the_page_address_ending_in_night(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "preview").status == 0
    page = (project / "preview" / "cards" / "nms-cloze.1.question.html").read_text()
    switch = page[page.index("<script>") : page.index("</script>")]
    assert 'location.hash === "#night"' in switch
    assert '"nightMode", night' in switch and '"night_mode", night' in switch


def test_the_index_lists_every_card_with_its_text_tags_and_pages(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "preview").status == 0
    index = (project / "preview" / "index.html").read_text()
    rows = re.findall(r"<li .*?</li>", index)
    assert len(rows) == 3
    first = rows[0]
    assert 'data-tags="topic::detection level::easy"' in first
    assert "zero: \\mathrm{iou} = 0 / |a \\cup b|." in first  # searchable, formulas as TeX
    assert 'href="cards/iou-touching.1.question.html"' in first
    assert 'href="cards/iou-touching.1.answer.html"' in first
    assert "NMS drops boxes whose [...] with a kept box" in rows[1]
    assert "(card 2)" in rows[2]
    assert 'id="search"' in index and 'id="mode"' in index


def test_a_new_preview_drops_removed_cards_and_keeps_other_files(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "preview").status == 0
    (project / "preview" / "notes-to-self.txt").write_text("mine")
    fewer = textwrap.dedent(NOTES).split("  - id: nms-cloze")[0]
    (project / "source" / "detection.yaml").write_text(fewer)
    assert deckbuild(project, "preview").status == 0
    assert pages(project) == ["iou-touching.1.answer.html", "iou-touching.1.question.html"]
    assert (project / "preview" / "notes-to-self.txt").read_text() == "mine"


def test_a_recipe_previews_only_its_notes_in_the_folder_asked_for(
    project: Path, deckbuild: Deckbuild, tmp_path: Path
) -> None:
    run = deckbuild(project, "preview", "easy", "--out", str(tmp_path / "elsewhere"))
    assert run.status == 0, run.err
    assert sorted(p.name for p in (tmp_path / "elsewhere" / "cards").glob("*.html")) == [
        "iou-touching.1.answer.html",
        "iou-touching.1.question.html",
    ]
    assert (
        "<title>Easy Ones: card preview</title>"
        in (tmp_path / "elsewhere" / "index.html").read_text()
    )
    unknown = deckbuild(project, "preview", "hard")
    assert unknown.status == 2
    assert "command line: no recipe named 'hard' (recipes: all, easy)" in unknown.err
