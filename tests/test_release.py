"""The release guard: a build that would cost users notes, reviews or updates is refused."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from builder import notetypes
from builder.load import load
from builder.notetypes import note_type_schemas
from builder.package import guid
from builder.release import guard
from builder.stamps import Lock, Stamp, read_lock
from tests.conftest import REPO, MakeProject, Run, edit, note, outputs

Deckbuild = Callable[..., Run]
SOURCE = "source/detection.yaml"

NOTES = """
    deck: Detection
    tags: [topic::detection]
    notes:
      - id: iou-touching
        sources: [Fixture 2026]
        front: What is the IoU of two boxes that only touch?
        back: Zero, the intersection has no area.
      - id: nms-cloze
        sources: [Fixture 2026]
        cloze: NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a {{c2::threshold}}.
      - id: nms-threshold
        sources: [Fixture 2026]
        front: What does the NMS threshold trade off?
        back: Recall of nearby objects against duplicate boxes.
"""
SUMMARY = (
    "deckbuild: {n} change(s) would break notes that users already have; nothing was written. "
    "Fix them, or build with --allow-breaking-changes if you mean them (see the README, "
    "'Releasing an update')"
)


@pytest.fixture
def released(make_project: MakeProject, deckbuild: Deckbuild) -> Path:
    """A project built once: its notes.lock records a release."""
    root = make_project({"source/detection.yaml": NOTES})
    assert deckbuild(root, "build").status == 0
    return root


def lock_line(root: Path, note_id: str) -> int:
    lines = (root / "notes.lock").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(f'    "{note_id}"'))


def notes_in(apkg: Path, tmp_path: Path) -> dict[str, list[str]]:
    """The notes of a built deck by GUID: their fields, and their tags last."""
    with zipfile.ZipFile(apkg) as archive:
        (tmp_path / "col").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col") as db:
        rows = db.execute("select guid, flds, tags from notes").fetchall()
    return {row[0]: [*row[1].split("\x1f"), row[2].strip()] for row in rows}


# --- through the command line --------------------------------------------------------------


def test_a_released_note_that_disappears_is_refused_and_nothing_is_written(
    released: Path, deckbuild: Deckbuild
) -> None:
    before = outputs(released)
    line = lock_line(released, "nms-threshold")
    without = textwrap.dedent(NOTES).split("  - id: nms-threshold")[0].lstrip()
    (released / "source" / "detection.yaml").write_text(without)

    run = deckbuild(released, "build")

    assert run.status == 2
    assert run.err.splitlines() == [
        f"notes.lock:{line}: nms-threshold: this released note is missing from source/. Users "
        "would keep the old note, and a note under a new id arrives as a second copy without "
        "its review history. Restore the id, or keep the note with `retired: <reason>` so the "
        "build tells users to delete it (docs/source-format.md, 'Retiring a note')",
        SUMMARY.format(n=1),
    ]
    assert outputs(released) == before


def test_a_renamed_note_is_refused_with_a_guess_at_its_new_id(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / SOURCE, "id: nms-threshold", "id: nms-iou-threshold")

    run = deckbuild(released, "build")

    assert run.status == 2
    assert "nms-threshold: this released note is missing from source/ (renamed to " in run.err
    assert "'nms-iou-threshold'?)" in run.err


def test_a_note_that_changes_kind_is_refused_at_its_line(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(
        released / SOURCE,
        "front: What does the NMS threshold trade off?\n",
        "cloze: The NMS threshold trades off {{c1::recall}}.\n",
    )

    run = deckbuild(released, "build")

    assert run.status == 2
    assert run.err.splitlines()[0] == (
        "source/detection.yaml:11: nms-threshold: was released as a basic note and is now a "
        "cloze note: Anki skips an update that changes a note's type, so users would never see "
        "it. Keep it a basic note, or retire this id (keeping its 'front') and add the new note "
        "under a new id"
    )


def test_a_changed_note_type_schema_is_refused(
    released: Path, deckbuild: Deckbuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = tuple("Question" if f == "Front" else f for f in notetypes.BASIC.fields)
    monkeypatch.setattr(notetypes, "BASIC", replace(notetypes.BASIC, fields=renamed))

    run = deckbuild(released, "build")

    assert run.status == 2
    assert run.err.splitlines()[0] == (
        "notes.lock:4: note type 'basic' would change its fields from Id, Front, Back, Code, "
        "Figure, Verified to Id, Question, Back, Code, Figure, Verified: Anki would keep a second "
        "copy of the note type and stop updating users' notes. Restore it in "
        "builder/notetypes.py, or see the README ('Releasing an update') for when a new note type "
        "is worth that"
    )


def test_the_override_builds_and_the_lock_then_records_the_new_state(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / SOURCE, "id: nms-threshold", "id: nms-iou-threshold")

    run = deckbuild(released, "build", "--allow-breaking-changes")

    assert run.status == 0, run.err
    assert "deckbuild: building anyway, as --allow-breaking-changes asks" in run.err
    notes = read_lock(released / "notes.lock", Path("notes.lock"))[0].notes
    assert "nms-threshold" not in notes and "nms-iou-threshold" in notes
    assert deckbuild(released, "build").status == 0


def test_retiring_a_note_passes_the_guard_and_ships_a_notice_to_delete_it(
    released: Path, deckbuild: Deckbuild, tmp_path: Path
) -> None:
    old_mod = read_lock(released / "notes.lock", Path("notes.lock"))[0].notes["nms-cloze"].mod
    edit(released / SOURCE, "  - id: nms-cloze\n", "  - id: nms-cloze\n    retired: a duplicate\n")

    run = deckbuild(released, "build")

    assert run.status == 0, run.err
    shipped = notes_in(released / "dist" / "all.apkg", tmp_path)
    note_id, text, extra, _figure, tags = shipped[guid("nms-cloze")]
    assert note_id == "nms-cloze"
    assert "{{c1::delete it}} {{c2::delete it}}" in text  # every card it had stays filled
    assert "Why: a duplicate" in extra and "tag:deck::retired" in extra
    assert sorted(tags.split()) == ["deck::retired", "topic::detection"]
    # A newer stamp, or users' Anki would keep the old note.
    assert (
        read_lock(released / "notes.lock", Path("notes.lock"))[0].notes["nms-cloze"].mod > old_mod
    )


def test_a_lock_of_version_1_is_checked_and_upgraded(released: Path, deckbuild: Deckbuild) -> None:
    current = (released / "notes.lock").read_text()
    data = json.loads(current)
    for entry in [*data["notes"].values(), *data["note_types"].values()]:
        entry.pop("kind", None)
        entry.pop("schema", None)
    (released / "notes.lock").write_text(json.dumps({**data, "version": 1}))

    assert deckbuild(released, "build").status == 0
    assert (released / "notes.lock").read_text() == current
    edit(released / SOURCE, "id: iou-touching", "id: iou-touch")
    assert deckbuild(released, "build").status == 2


# --- the guard itself ----------------------------------------------------------------------


def test_an_edit_whose_stamp_is_not_newer_is_refused() -> None:
    released = Lock(notes={"a": Stamp("old", 2000)}, note_types={"basic": Stamp("css", 1000)})
    stamped = Lock(notes={"a": Stamp("new", 2000)}, note_types={"basic": Stamp("css2", 900)})

    found = guard(released, stamped, [note("a")], {}, lock_file=Path("notes.lock")).problems

    assert [str(p) for p in found] == [
        "source/a.yaml:3: a: its content changed, but its stamp 2000 is not newer than the "
        "released 2000: Anki would keep users' old version. notes.lock does not match what "
        "was released; restore it from version control (git checkout -- notes.lock)",
        "notes.lock:4: note type 'basic' changed, but its stamp 900 is not newer than the "
        "released 1000: Anki would keep users' old version. notes.lock does not match what "
        "was released; restore it from version control (git checkout -- notes.lock)",
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"templates": ("Card 1", "Card 2")}, "its templates from Card 1 to Card 1, Card 2"),
        ({"sort_field": 2}, "its sort field from 1 to 2"),
        (
            {"kind": "cloze", "id": 7},
            "its id from 1734019561 to 7 and its kind from basic to cloze",
        ),
    ],
)
def test_every_part_of_a_schema_is_guarded(change: dict[str, object], words: str) -> None:
    schemas = note_type_schemas()
    released = Lock(schemas=schemas)
    changed = {**schemas, "basic": replace(schemas["basic"], **change)}  # type: ignore[arg-type]

    (problem,) = guard(released, Lock(), [], changed, lock_file=Path("notes.lock")).problems

    assert problem.message.startswith(f"note type 'basic' would change {words}: ")


def test_the_guard_names_lines_in_a_lock_file_laid_out_by_hand() -> None:
    released = Lock(notes={"a": Stamp("f", 1), "b": Stamp("f", 1)})
    by_hand = '{"version": 2, "note_types": {},\n"notes": {"a": {"fingerprint": "f", "mod": 1},\n'
    by_hand += '  "b": {"fingerprint": "f", "mod": 1}}}\n'

    found = guard(released, Lock(), [], {}, lock_file=Path("x.lock"), lock_file_text=by_hand)

    assert [str(p.location) for p in found.problems] == ["x.lock:2", "x.lock:3"]


def test_the_committed_lock_passes_the_guard_with_the_real_deck() -> None:
    # Every note id the repository ever released is still in source/, live or retired.
    released, problems = read_lock(REPO / "notes.lock", Path("notes.lock"))
    notes = load(REPO).notes
    assert problems == ()
    stamped = Lock(notes={n.id: released.notes.get(n.id, Stamp("new", 0)) for n in notes})

    found = guard(released, stamped, notes, note_type_schemas(), lock_file=Path("notes.lock"))

    assert [str(p) for p in found.problems] == []
