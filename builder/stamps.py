"""Stamps: each note's modification time, bumped only when its content changes.

Anki applies an incoming note only when its modification time is newer than the one in the
collection ("update if newer", the import default), and genanki would stamp every note with the
build time. So each note keeps its own stamp in the committed lock file: unchanged content keeps
its stamp (rebuilds are byte-identical), changed content gets a stamp newer than both the old one
and any earlier build (a rebuild in the same second still updates users' notes).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from builder.notes import Schema
from builder.problems import Location, Problem
from builder.render import RenderedNote

MAX_MOD = 2**40
LOCK_VERSION = 2  # 2 adds each note's kind and each note type's schema; 1 is still read


@dataclass(frozen=True)
class Stamp:
    fingerprint: str
    mod: int


@dataclass(frozen=True)
class Lock:
    """What was released: a stamp per note id and per note type name, each note's kind and
    each note type's schema (the last two are empty in a lock of version 1)."""

    notes: Mapping[str, Stamp] = field(default_factory=dict)
    note_types: Mapping[str, Stamp] = field(default_factory=dict)
    note_kinds: Mapping[str, str] = field(default_factory=dict)
    schemas: Mapping[str, Schema] = field(default_factory=dict)


@dataclass(frozen=True)
class Stamped:
    """Modification times for this build, and the lock to keep for the next one."""

    note_mods: Mapping[str, int]
    note_type_mods: Mapping[str, int]
    lock: Lock


def stamp(
    notes: Sequence[RenderedNote],
    note_types: Mapping[str, str],
    lock: Lock,
    *,
    now: int,
) -> Stamped:
    """Gives each note and note type a modification time.

    `note_types` maps each note type's name to everything Anki keeps of it (fields, templates,
    CSS) as text: a change to any of it gives the note type a newer stamp, which Anki needs
    before it takes the new templates or CSS.

    Entries of the lock that this build does not touch (a note that left the source) are kept
    as they are, with each note's kind and each note type's schema: `builder.release` compares
    them with this build and decides what the next lock holds.
    """
    note_stamps = {n.id: _next(lock.notes.get(n.id), fingerprint(n), now) for n in notes}
    type_stamps = {
        name: _next(lock.note_types.get(name), _hash([text]), now)
        for name, text in note_types.items()
    }
    new_lock = replace(
        lock,
        notes={**lock.notes, **note_stamps},
        note_types={**lock.note_types, **type_stamps},
    )
    return Stamped(
        note_mods={k: v.mod for k, v in note_stamps.items()},
        note_type_mods={k: v.mod for k, v in type_stamps.items()},
        lock=new_lock,
    )


def fingerprint(note: RenderedNote) -> str:
    """A hash of everything about a note that Anki stores: its fields and tags."""
    fields = [note.front, note.back, note.code, note.figure, note.verified, note.sources]
    return _hash([note.kind, *fields, *note.tags])


def _hash(parts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _next(old: Stamp | None, print_: str, now: int) -> Stamp:
    if old is not None and old.fingerprint == print_:
        return old
    return Stamp(print_, max(now, old.mod + 1) if old else now)


def read_lock(path: Path, shown: Path) -> tuple[Lock, tuple[Problem, ...]]:
    """The lock file's contents; a missing file is an empty lock, a broken one a problem."""
    if not path.exists():
        return Lock(), ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") not in (1, LOCK_VERSION):
            raise ValueError(f"unknown lock version {data.get('version')!r}")
        notes, note_types = data["notes"], data["note_types"]
        return Lock(
            notes={k: _stamp(v) for k, v in notes.items()},
            note_types={k: _stamp(v) for k, v in note_types.items()},
            note_kinds={k: str(v["kind"]) for k, v in notes.items() if "kind" in v},
            schemas={k: _schema(v["schema"]) for k, v in note_types.items() if "schema" in v},
        ), ()
    # RecursionError: JSON nested deeper than Python's stack.
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        message = (
            f"the lock file is damaged ({error}); restore it from version control "
            "(git checkout -- notes.lock) rather than deleting it, or users stop getting updates"
        )
        return Lock(), (Problem(Location(shown, 1), message),)


def _stamp(entry: Mapping[str, object]) -> Stamp:
    fingerprint, mod = entry["fingerprint"], entry["mod"]
    if not isinstance(fingerprint, str):
        raise TypeError(f"a fingerprint must be text, not {fingerprint!r}")
    # Seconds: far beyond any real clock, and within what SQLite and Anki store.
    if isinstance(mod, bool) or not isinstance(mod, int) or not 0 <= mod < MAX_MOD:
        raise ValueError(f"a mod must be a whole number from 0 to {MAX_MOD - 1}, not {mod!r}")
    return Stamp(fingerprint, mod)


def _schema(data: Mapping[str, object]) -> Schema:
    fields, templates = data["fields"], data["templates"]
    if not isinstance(fields, list) or not isinstance(templates, list):
        raise TypeError("a note type's fields and templates must be lists")
    return Schema(
        id=int(str(data["id"])),
        kind=str(data["kind"]),
        fields=tuple(str(name) for name in fields),
        templates=tuple(str(name) for name in templates),
        sort_field=int(str(data["sort_field"])),
    )


def write_lock(path: Path, lock: Lock) -> bool:
    """Writes the lock atomically, one entry per line for readable diffs; False if unchanged."""
    text = lock_text(lock)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def lock_text(lock: Lock) -> str:
    """The lock file's text: one line per note type and per note, each in a fixed place."""

    def section(entries: Mapping[str, Stamp], extra: Mapping[str, Mapping[str, object]]) -> str:
        lines = [
            f"    {json.dumps(key)}: "
            + json.dumps(
                {"fingerprint": s.fingerprint, "mod": s.mod, **extra.get(key, {})}, sort_keys=True
            )
            for key, s in sorted(entries.items())
        ]
        return "{\n" + ",\n".join(lines) + "\n  }" if lines else "{}"

    kinds = {key: {"kind": kind} for key, kind in lock.note_kinds.items()}
    schemas = {
        key: {"schema": asdict(schema)}  # tuples become JSON lists
        for key, schema in lock.schemas.items()
    }
    return (
        "{\n"
        f'  "version": {LOCK_VERSION},\n'
        f'  "note_types": {section(lock.note_types, schemas)},\n'
        f'  "notes": {section(lock.notes, kinds)}\n'
        "}\n"
    )
