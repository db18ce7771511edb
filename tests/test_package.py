"""Packaging: identity that never changes, and files that are the same bytes every time."""

from __future__ import annotations

import re
import sqlite3
import zipfile
from pathlib import Path

import genanki

from builder.notes import Media
from builder.package import guid, package
from tests.conftest import REPO, package_notes, rendered_note


def test_a_guid_depends_on_the_id_only() -> None:
    assert guid("iou-formula") == guid("iou-formula")
    assert guid("iou-formula") != guid("iou-formula-2")
    # Hard-coded: the GUID of a released note may never change.
    assert guid("iou-formula") == str(genanki.guid_for("cv-interview-prep-deck", "iou-formula"))


def test_two_packages_of_the_same_notes_are_byte_identical(tmp_path: Path) -> None:
    picture = tmp_path / "b.png"
    picture.write_bytes(b"picture")
    other = tmp_path / "a.png"
    other.write_bytes(b"other")
    media = (Media("b.png", picture), Media("a.png", other))
    first = package_notes(
        tmp_path, "first.apkg", [rendered_note("one", media=media), rendered_note("two")]
    )
    # The same media listed in another order (genanki would collect it through a set).
    reordered = [rendered_note("one", media=media[::-1]), rendered_note("two")]
    second = package_notes(tmp_path, "second.apkg", reordered)
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
    written = package_notes(tmp_path, "deck.apkg", [rendered_note("a")])
    with zipfile.ZipFile(written) as archive:
        (tmp_path / "col").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col") as db:
        (decks,) = db.execute("select decks from col").fetchone()
    assert '"Deck::Detection"' in decks


def test_no_module_but_this_one_imports_genanki() -> None:
    # The preview, the tests' template emulation and the note types work without genanki.
    importing = [
        path.name
        for path in (REPO / "builder").glob("*.py")
        if re.search(r"^\s*(import|from)\s+genanki\b", path.read_text(), re.MULTILINE)
    ]
    assert importing == ["package.py"]
