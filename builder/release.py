"""The release guard: a build may not take away what an earlier release gave users.

Users' collections hold what earlier builds released, and the committed lock file records it:
every note id (a note's GUID derives from its id), each note's kind, each note type's schema,
and each note's stamp. Some changes to these are ones Anki cannot follow on import: a note whose
id disappears stays in users' collections (and under a new id arrives as a duplicate, its review
history left behind); a note that changes kind, or a note type that changes its fields,
templates or sort field, is no longer updated; an edit whose stamp is not newer is ignored.
So before anything is written, the build is compared with the lock, and each such change is a
problem. The author fixes it, retires the note (see docs/source-format.md), or overrides the
guard on the command line, and the lock then records the new state.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from builder.notes import Note, Schema
from builder.problems import Location, Problem
from builder.stamps import Lock, Stamp, lock_text


@dataclass(frozen=True)
class Release:
    """What this build would release: the lock to keep, and what it would break for users."""

    lock: Lock
    problems: tuple[Problem, ...]


def guard(
    released: Lock,
    stamped: Lock,
    notes: Sequence[Note],
    schemas: Mapping[str, Schema],
    *,
    lock_file: Path,
    lock_file_text: str | None = None,
) -> Release:
    """Compares this build with `released`, the lock of the last release.

    `notes` are every note of this build (retired ones included), `stamped` the lock their
    stamps make (see `builder.stamps.stamp`), `schemas` the note types as they will be written.
    There is a problem for each released note id that no note has, each note whose kind changed,
    each note type whose schema changed, and each changed note or note type whose stamp is not
    newer than the released one. Problems about the lock's entries name their line in
    `lock_file` (whose text is `lock_file_text`, by default as `write_lock` lays out
    `released`), the others the note's line. What a lock of version 1 did not record (kinds,
    schemas) is not compared.

    The returned lock holds exactly this build's notes and note types, with kinds and schemas.
    """
    lines = (lock_text(released) if lock_file_text is None else lock_file_text).splitlines()
    ids = {note.id for note in notes}
    problems = [
        _dropped(
            note_id, released, stamped, ids, Location(lock_file, _line(lines, "notes", note_id))
        )
        for note_id in released.notes
        if note_id not in ids
    ]
    for note in notes:
        old_kind = released.note_kinds.get(note.id)
        if old_kind is not None and old_kind != note.kind:
            problems.append(_kind_changed(note, old_kind))
        old, new = released.notes.get(note.id), stamped.notes[note.id]
        if old is not None and _not_newer(old, new):
            problems.append(_stale(note.location, note.id, "its content", old, new))
    for name, old_schema in released.schemas.items():
        where = Location(lock_file, _line(lines, "note_types", name))
        new_schema = schemas.get(name)
        if new_schema != old_schema:
            problems.append(Problem(where, _schema_changed(name, old_schema, new_schema)))
    for name, new in stamped.note_types.items():
        old = released.note_types.get(name)
        if old is not None and _not_newer(old, new):
            where = Location(lock_file, _line(lines, "note_types", name))
            problems.append(_stale(where, None, f"note type '{name}'", old, new))
    lock = Lock(
        notes={note.id: stamped.notes[note.id] for note in notes},
        note_types=dict(stamped.note_types),
        note_kinds={note.id: note.kind for note in notes},
        schemas=dict(schemas),
    )
    return Release(lock, tuple(problems))


def _line(lines: Sequence[str], section: str, key: str) -> int:
    """The line of `key` in `section` of the lock file; 1 if it cannot be found."""
    header = re.compile(rf"{re.escape(json.dumps(section))}\s*:")
    entry = re.compile(rf"{re.escape(json.dumps(key))}\s*:")
    start = next((i for i, line in enumerate(lines) if header.search(line)), 0)
    return next((i + 1 for i in range(start, len(lines)) if entry.search(lines[i])), 1)


def _dropped(note_id: str, released: Lock, stamped: Lock, ids: set[str], at: Location) -> Problem:
    new_ids = sorted(i for i in ids if i not in released.notes)
    same = [
        i for i in new_ids if stamped.notes[i].fingerprint == released.notes[note_id].fingerprint
    ]
    renamed = same or difflib.get_close_matches(note_id, new_ids, n=1, cutoff=0.75)
    guess = f" (renamed to '{renamed[0]}'?)" if renamed else ""
    message = (
        f"this released note is missing from source/{guess}. Users would keep the old note, and "
        "a note under a new id arrives as a second copy without its review history. Restore "
        "the id, or keep the note with `retired: <reason>` so the build tells users to delete "
        "it (docs/source-format.md, 'Retiring a note')"
    )
    return Problem(at, message, note_id)


def _kind_changed(note: Note, old_kind: str) -> Problem:
    message = (
        f"was released as a {old_kind} note and is now a {note.kind} note: Anki skips an update "
        "that changes a note's type, so users would never see it. Keep it a "
        f"{old_kind} note, or retire this id (keeping its "
        f"'{'cloze' if old_kind == 'cloze' else 'front'}') and add the new note under a new id"
    )
    return Problem(note.location, message, note.id)


def _schema_changed(name: str, old: Schema, new: Schema | None) -> str:
    consequence = (
        "Anki would keep a second copy of the note type and stop updating users' notes. "
        "Restore it in builder/notetypes.py, or see the README ('Releasing an update') for when "
        "a new note type is worth that"
    )
    if new is None:
        return f"note type '{name}' was released and is gone: {consequence}"
    changes = [
        f"its {part.name.replace('_', ' ')} from {_shown(before)} to {_shown(after)}"
        for part in fields(Schema)
        if (before := getattr(old, part.name)) != (after := getattr(new, part.name))
    ]
    return f"note type '{name}' would change {' and '.join(changes)}: {consequence}"


def _shown(value: object) -> str:
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def _not_newer(old: Stamp, new: Stamp) -> bool:
    return new.fingerprint != old.fingerprint and new.mod <= old.mod


def _stale(at: Location, note_id: str | None, what: str, old: Stamp, new: Stamp) -> Problem:
    message = (
        f"{what} changed, but its stamp {new.mod} is not newer than the released {old.mod}: Anki "
        "would keep users' old version. notes.lock does not match what was released; restore "
        "it from version control (git checkout -- notes.lock)"
    )
    return Problem(at, message, note_id)
