"""Stamps: a note's modification time changes exactly when its content does."""

from __future__ import annotations

from pathlib import Path

from builder.stamps import Lock, Stamp, read_lock, stamp, write_lock
from tests.conftest import rendered_note


def test_a_new_note_is_stamped_now() -> None:
    result = stamp([rendered_note("a", "A.")], {}, Lock(), now=1000)
    assert result.note_mods == {"a": 1000}


def test_unchanged_content_keeps_its_stamp_and_changed_content_gets_a_newer_one() -> None:
    first = stamp([rendered_note("a", "A."), rendered_note("b", "B.")], {}, Lock(), now=1000)
    second = stamp(
        [rendered_note("a", "A."), rendered_note("b", "B, edited.")], {}, first.lock, now=2000
    )
    assert second.note_mods == {"a": 1000, "b": 2000}


def test_an_edit_within_the_same_second_is_still_newer() -> None:
    first = stamp([rendered_note("a", "A.")], {}, Lock(), now=1000)
    second = stamp([rendered_note("a", "A, edited.")], {}, first.lock, now=1000)
    assert second.note_mods == {"a": 1001}


def test_a_note_type_change_gets_a_newer_stamp() -> None:
    first = stamp([], {"basic": "css v1"}, Lock(), now=1000)
    same = stamp([], {"basic": "css v1"}, first.lock, now=2000)
    changed = stamp([], {"basic": "css v2"}, first.lock, now=3000)
    assert (same.note_type_mods, changed.note_type_mods) == ({"basic": 1000}, {"basic": 3000})


def test_notes_outside_this_build_stay_in_the_lock() -> None:
    old = Lock(notes={"retired": Stamp("f00d", 5)})
    assert stamp([rendered_note("a", "A.")], {}, old, now=1000).lock.notes["retired"] == Stamp(
        "f00d", 5
    )


def test_the_lock_file_round_trips_and_is_only_rewritten_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "notes.lock"
    lock = stamp([rendered_note("a", "A.")], {"basic": "css"}, Lock(), now=1000).lock
    assert write_lock(path, lock) is True
    assert read_lock(path, Path("notes.lock")) == (lock, ())
    assert write_lock(path, lock) is False


def test_a_damaged_lock_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "notes.lock"
    path.write_text("{not json", encoding="utf-8")
    lock, problems = read_lock(path, Path("notes.lock"))
    assert lock == Lock()
    assert len(problems) == 1
    assert str(problems[0]).startswith("notes.lock:1: the lock file is damaged")
