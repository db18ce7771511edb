"""The build benchmark's own parts: its synthetic decks build, its genanki floor writes the
same notes the build writes, and its edits change one note and nothing else."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

from bench.build import floor_spec, insert_line, write_floor, write_synthetic
from builder.load import load
from tests.conftest import Run

Deckbuild = Callable[..., Run]


def notes_in(apkg: Path, work: Path) -> list[tuple[str, str, str]]:
    with zipfile.ZipFile(apkg) as archive:
        database = work / f"{apkg.parent.name}-{apkg.stem}.anki2"
        database.write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT guid, flds, tags FROM notes ORDER BY guid").fetchall()
    connection.close()
    return rows


def test_a_synthetic_deck_builds_and_the_floor_writes_the_same_notes(
    tmp_path: Path, deckbuild: Deckbuild
) -> None:
    project = write_synthetic(tmp_path, 60)  # one code note, all three figures, a cloze

    run = deckbuild(project, "build")

    assert run.status == 0, run.err
    assert "verified 1 code answer," in run.out
    write_floor(floor_spec(project, 2, tmp_path / "floor"))
    for name in ("all.apkg", "code.apkg"):
        built = notes_in(project / "dist" / name, tmp_path)
        assert len(built) == (60 if name == "all.apkg" else 1)
        assert notes_in(tmp_path / "floor" / "floor" / name, tmp_path) == built


def test_an_edit_puts_one_line_atop_one_notes_block_and_nothing_else(tmp_path: Path) -> None:
    project = write_synthetic(tmp_path, 60)
    target = next(note for note in load(project).notes if note.id == "syn-note-1")
    path = project / target.location.path
    lines = path.read_text(encoding="utf-8").splitlines()

    insert_line(path, target.location.line, "back", "Edited (1).\n")

    after = next(note for note in load(project).notes if note.id == "syn-note-1")
    assert after.back == "Edited (1).\n\n" + target.back
    edited = path.read_text(encoding="utf-8").splitlines()
    inserted = [line for line in edited if line.strip() == "Edited (1)."]
    assert len(inserted) == 1
    at = edited.index(inserted[0])
    assert edited[:at] + edited[at + 2 :] == lines and edited[at + 1] == ""
