"""Packaging: rendered notes to a `.apkg` file. The only module that imports genanki.

Identity lives here and in `builder.notetypes`: the GUID namespace and deck ids are constants or
pure functions of names, so every build gives the same notes the same identity in Anki.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import genanki

from builder.notes import Media
from builder.notetypes import NoteType, card_css, fields, note_types
from builder.render import RenderedNote

# Never change this: a note's GUID derives from it and its id.
GUID_NAMESPACE = "cv-interview-prep-deck"


@dataclass(frozen=True)
class Packaged:
    """What was written: counts for the build summary."""

    path: Path
    decks: int
    notes: int
    cards: int
    media: int


@cache  # asked for twice per note and deck file (the note, then its stamp), and it is a hash
def guid(note_id: str) -> str:
    """A note's GUID: from its id only, so edits update the note users already have."""
    return str(genanki.guid_for(GUID_NAMESPACE, note_id))


def deck_id(name: str) -> int:
    """A deck id from the deck's full name: stable, and below 2**63 as Anki requires."""
    digest = hashlib.sha256(f"{GUID_NAMESPACE}:deck:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2 | 1 << 32


def genanki_note_type(note_type: NoteType) -> genanki.Model:
    """The note type as genanki writes it."""
    return genanki.Model(
        note_type.id,
        note_type.name,
        fields=[{"name": name} for name in note_type.fields],
        templates=[{"name": note_type.template, "qfmt": note_type.front, "afmt": note_type.back}],
        css=card_css(),
        model_type=genanki.Model.CLOZE if note_type.kind == "cloze" else genanki.Model.FRONT_BACK,
        sort_field_index=note_type.sort_field,
    )


def package(
    name: str,
    notes: Sequence[RenderedNote],
    *,
    note_mods: Mapping[str, int],
    note_type_mods: Mapping[str, int],
    output: Path,
    description: str = "",
) -> Packaged:
    """Writes the notes as `output`, each into the subdeck `<name>::<note.deck>`.

    The file appears whole or not at all (written beside it, then renamed), and two calls with
    the same arguments write identical bytes.
    """
    written = {kind: genanki_note_type(note_type) for kind, note_type in note_types().items()}
    decks: dict[str, genanki.Deck] = {}
    card_count = 0
    for note in notes:
        full_name = f"{name}::{note.deck}"
        if full_name not in decks:
            decks[full_name] = genanki.Deck(deck_id(full_name), full_name, description)
        anki_note = genanki.Note(
            model=written[note.kind],
            fields=list(fields(note).values()),
            tags=list(note.tags),
            guid=guid(note.id),
            due=note.position,  # new cards are shown in `due` order: keep the source order
        )
        card_count += len(anki_note.cards)
        decks[full_name].add_note(anki_note)
    media = sorted({m for note in notes for m in note.media}, key=lambda m: m.name)
    # genanki stamps the package time on everything; the newest note or note type stamp keeps
    # that deterministic, and the per-note stamps are written afterwards.
    timestamp = max([*note_mods.values(), *note_type_mods.values(), 1])
    _write(list(decks.values()), notes, note_mods, media, output, timestamp)
    return Packaged(output, len(decks), len(notes), card_count, len(media))


def _write(
    decks: list[genanki.Deck],
    notes: Sequence[RenderedNote],
    note_mods: Mapping[str, int],
    media: Sequence[Media],
    output: Path,
    timestamp: int,
) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deckbuild-") as work:
        database = Path(work) / "collection.anki2"
        connection = sqlite3.connect(database)
        try:
            cursor = connection.cursor()
            genanki.Package(decks).write_to_db(cursor, timestamp, _ids(timestamp))
            # By note id, looked up once: the notes table has no index on guid, so updating
            # `WHERE guid = ?` scanned every note for every note (20,000 notes took minutes).
            ids = dict(cursor.execute("SELECT guid, id FROM notes").fetchall())
            mods = [(note_mods.get(n.id, timestamp), ids[guid(n.id)]) for n in notes]
            cursor.executemany("UPDATE notes SET mod = ? WHERE id = ?", mods)
            cursor.executemany("UPDATE cards SET mod = ? WHERE nid = ?", mods)
            connection.commit()
        finally:
            connection.close()
        handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
        try:
            with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
                _add(archive, "collection.anki2", database.read_bytes())
                index = {str(i): m.name for i, m in enumerate(media)}
                _add(archive, "media", json.dumps(index).encode())
                for i, item in enumerate(media):
                    packed = item.name.lower().endswith(_PACKED_MEDIA)
                    _add(archive, str(i), item.path.read_bytes(), deflate=not packed)
            os.chmod(temporary, 0o644)  # mkstemp makes it private; a deck is for sharing
            os.replace(temporary, output)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _ids(timestamp: int) -> Iterator[int]:
    """Note and card ids as genanki numbers them, from the (deterministic) package time."""
    return itertools.count(timestamp * 1000)


# Images are compressed already: deflating them again cost a rebuild more time than the few
# percent of size it saved, so they are stored as they are.
_PACKED_MEDIA = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, deflate: bool = True) -> None:
    # A fixed date and mode: zip entries otherwise carry the time of the build.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
