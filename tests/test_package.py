"""Packaging: identity that never changes, and files that are the same bytes every time."""

from __future__ import annotations

import sqlite3
import zipfile
from dataclasses import replace
from pathlib import Path

import genanki

from builder import package as packaging
from builder.figures import Media
from builder.package import cards, guid, package
from builder.render import RenderedNote
from tests.conftest import rendered_note


def test_the_note_type_schema_is_pinned() -> None:
    # Changing any of this makes Anki refuse to update users' existing notes: don't, unless the
    # release plan says how users migrate (see the README's section on updating).
    assert packaging.BASIC_NOTE_TYPE_ID == 1_734_019_561
    assert packaging.CLOZE_NOTE_TYPE_ID == 1_734_019_562
    assert packaging.GUID_NAMESPACE == "cv-interview-prep-deck"
    basic, cloze = packaging._basic_note_type(), packaging._cloze_note_type()
    assert [f["name"] for f in basic.fields] == [
        "Id",
        "Front",
        "Back",
        "Code",
        "Figure",
        "Verified",
    ]
    assert [t["name"] for t in basic.templates] == ["Card 1"]
    assert basic.sort_field_index == 1
    assert [f["name"] for f in cloze.fields] == ["Id", "Text", "Extra", "Figure"]
    assert [t["name"] for t in cloze.templates] == ["Cloze"]
    assert cloze.model_type == genanki.Model.CLOZE


def test_a_guid_depends_on_the_id_only() -> None:
    assert guid("iou-formula") == guid("iou-formula")
    assert guid("iou-formula") != guid("iou-formula-2")
    # Hard-coded: the GUID of a released note may never change.
    assert guid("iou-formula") == str(genanki.guid_for("cv-interview-prep-deck", "iou-formula"))


def test_the_css_styles_night_mode_under_both_class_names() -> None:
    css = packaging.card_css()
    assert ".nightMode .highlight .k" in css and ".night_mode .highlight .k" in css
    assert ".nightMode .figure-dark" in css and ".night_mode .figure-dark" in css


def write(tmp_path: Path, name: str, notes: list[RenderedNote]) -> Path:
    output = tmp_path / name
    package(
        "Deck",
        notes,
        note_mods={n.id: 1_700_000_000 for n in notes},
        note_type_mods={"basic": 1_690_000_000},
        output=output,
    )
    return output


def test_two_packages_of_the_same_notes_are_byte_identical(tmp_path: Path) -> None:
    picture = tmp_path / "b.png"
    picture.write_bytes(b"picture")
    other = tmp_path / "a.png"
    other.write_bytes(b"other")
    media = (Media("b.png", picture), Media("a.png", other))
    first = write(tmp_path, "first.apkg", [rendered_note("one", media=media), rendered_note("two")])
    # The same media listed in another order (genanki would collect it through a set).
    reordered = [rendered_note("one", media=media[::-1]), rendered_note("two")]
    second = write(tmp_path, "second.apkg", reordered)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(tmp_path / "first.apkg") as archive:
        assert archive.namelist() == ["collection.anki2", "media", "0", "1"]
        assert archive.read("media") == b'{"0": "a.png", "1": "b.png"}'
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_each_note_carries_its_own_modification_stamp(tmp_path: Path) -> None:
    output = tmp_path / "deck.apkg"
    package(
        "Deck",
        [rendered_note("old"), rendered_note("new")],
        note_mods={"old": 1_600_000_000, "new": 1_700_000_000},
        note_type_mods={"basic": 1_500_000_000},
        output=output,
    )
    with zipfile.ZipFile(output) as archive:
        (tmp_path / "col").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col") as db:
        mods = dict(db.execute("select guid, mod from notes"))
    assert mods == {guid("old"): 1_600_000_000, guid("new"): 1_700_000_000}


def test_notes_go_into_subdecks_of_the_recipe_deck(tmp_path: Path) -> None:
    written = write(tmp_path, "deck.apkg", [rendered_note("a")])
    with zipfile.ZipFile(written) as archive:
        (tmp_path / "col").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col") as db:
        (decks,) = db.execute("select decks from col").fetchone()
    assert '"Deck::Detection"' in decks


def test_cards_are_filled_in_exactly_as_anki_fills_them(tmp_path: Path) -> None:
    # The preview shows these sides as what a reviewer will see: they must be Anki's own HTML.
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    cloze = replace(rendered_note("cloze"), kind="cloze", back="<p>Extra.</p>")
    notes = [
        rendered_note("plain", back="<p>A.</p>"),
        rendered_note("no-back", back=""),
        replace(
            rendered_note("coded"),
            code='<div class="highlight"><pre>x = 1</pre></div>',
            verified="Verified: 3 cases",
            figure='<img class="figure" src="f.png">',
            sources='<div class="source">Source: He et al. 2016 &amp; more</div>',
        ),
        replace(rendered_note("sourced"), sources='<div class="source">Source: X</div>'),
        replace(
            cloze,
            front="<p>{{c1::IoU}} over a {{c3::threshold::a number}}; {{c1::again}}, "
            "'quoted' {{c3::<code>x &lt; y</code>\nor é}}</p>",
        ),
        replace(cloze, id="bare-cloze", front="{{c2::only}} this", back=""),
        replace(
            cloze,
            id="sourced-cloze",
            front="{{c1::IoU}}",
            back="",
            sources='<div class="source">Source: Y</div>',
        ),
    ]
    (tmp_path / "anki").mkdir()
    collection = Collection(str(tmp_path / "anki" / "collection.anki2"))
    try:
        collection.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=str(write(tmp_path, "deck.apkg", notes)),
                options=ImportAnkiPackageOptions(),
            )
        )
        shown = {}
        for card_id in collection.find_cards(""):
            card = collection.get_card(card_id)
            sides = card.render_output()
            shown[card.note()["Id"], card.ord + 1] = (sides.question_text, sides.answer_text)
    finally:
        collection.close()
    ours = {(c.note_id, c.ordinal): (c.question, c.answer) for n in notes for c in cards(n)}
    assert sorted(ours) == [
        ("bare-cloze", 2),
        ("cloze", 1),
        ("cloze", 3),
        ("coded", 1),
        ("no-back", 1),
        ("plain", 1),
        ("sourced", 1),
        ("sourced-cloze", 1),
    ]
    assert ours == shown


def test_the_source_line_ends_the_back_and_never_shows_on_the_front() -> None:
    line = '<div class="source">Source: He et al. 2016</div>'
    coded = replace(
        rendered_note("coded"),
        code='<div class="highlight"><pre>x = 1</pre></div>',
        verified="Verified: 3 cases",
        figure='<img class="figure" src="f.png">',
        sources=line,
    )
    cloze = replace(rendered_note("cloze"), kind="cloze", front="{{c1::IoU}}", sources=line)
    for note in (coded, cloze, replace(rendered_note("plain"), sources=line)):
        (card,) = cards(note)
        assert line not in card.question
        assert card.answer.count(line) == 1
    (card,) = cards(coded)
    # Below the answer, its code and its figure, after the line saying how the code was checked.
    order = [card.answer.index(part) for part in ("x = 1", "f.png", "Verified: 3", "Source:")]
    assert order == sorted(order)
