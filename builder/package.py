"""Packaging: rendered notes to a `.apkg` file. The only module that imports genanki.

Identity lives here: note type ids, the GUID namespace and deck ids are constants or pure
functions of names, so every build gives the same notes the same identity in Anki.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import genanki
from pygments.formatters import HtmlFormatter

from builder.figures import Media
from builder.render import CODE_CLASS, RenderedNote
from builder.stamps import Schema

# Never change these: Anki recognises the note types by id. A changed field list or template
# list makes Anki keep a second copy of the note type and refuse to update users' notes, which
# is why tests/test_package.py pins the schema below.
BASIC_NOTE_TYPE_ID = 1_734_019_561
CLOZE_NOTE_TYPE_ID = 1_734_019_562
GUID_NAMESPACE = "cv-interview-prep-deck"

BASIC_FIELDS = ("Id", "Front", "Back", "Code", "Figure", "Verified")
CLOZE_FIELDS = ("Id", "Text", "Extra", "Figure")

BASIC_FRONT = '<div class="front">{{Front}}</div>'
BASIC_BACK = """{{FrontSide}}
<hr id="answer">
<div class="back">
{{Back}}
{{#Code}}<div class="code">{{Code}}</div>{{/Code}}
{{#Figure}}<div class="figure-box">{{Figure}}</div>{{/Figure}}
{{#Verified}}<div class="provenance">{{Verified}}</div>{{/Verified}}
</div>"""
CLOZE_FRONT = '<div class="front">{{cloze:Text}}</div>'
CLOZE_BACK = """<div class="front">{{cloze:Text}}</div>
<div class="extra">
{{#Extra}}<hr id="answer">{{Extra}}{{/Extra}}
{{#Figure}}<div class="figure-box">{{Figure}}</div>{{/Figure}}
</div>"""

LIGHT_CODE_STYLE = "xcode"  # the Pygments styles whose every token has 4.5:1 contrast
DARK_CODE_STYLE = "monokai"


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


@cache
def card_css() -> str:
    """The note types' CSS: the card style, then a day and a night code palette."""
    base = resources.files("builder").joinpath("card.css").read_text(encoding="utf-8")
    # types-Pygments leaves get_style_defs untyped; it returns the rules as one string.
    light: str = HtmlFormatter(style=LIGHT_CODE_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        f".{CODE_CLASS}"
    )
    dark: str = HtmlFormatter(style=DARK_CODE_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        [f".nightMode .{CODE_CLASS}", f".night_mode .{CODE_CLASS}"]
    )
    return f"{base}\n/* Pygments: {LIGHT_CODE_STYLE} */\n{light}\n" + (
        f"/* Pygments: {DARK_CODE_STYLE}, night mode */\n{dark}\n"
    )


def _basic_note_type() -> genanki.Model:
    return genanki.Model(
        BASIC_NOTE_TYPE_ID,
        "CV Interview Prep: Basic",
        fields=[{"name": name} for name in BASIC_FIELDS],
        templates=[{"name": "Card 1", "qfmt": BASIC_FRONT, "afmt": BASIC_BACK}],
        css=card_css(),
        sort_field_index=1,
    )


def _cloze_note_type() -> genanki.Model:
    return genanki.Model(
        CLOZE_NOTE_TYPE_ID,
        "CV Interview Prep: Cloze",
        fields=[{"name": name} for name in CLOZE_FIELDS],
        templates=[{"name": "Cloze", "qfmt": CLOZE_FRONT, "afmt": CLOZE_BACK}],
        css=card_css(),
        model_type=genanki.Model.CLOZE,
        sort_field_index=1,
    )


def note_type_texts() -> dict[str, str]:
    """Everything Anki keeps of each note type, as one text each, for its stamp."""
    return {
        "basic": "\x1f".join([*BASIC_FIELDS, BASIC_FRONT, BASIC_BACK, card_css()]),
        "cloze": "\x1f".join([*CLOZE_FIELDS, CLOZE_FRONT, CLOZE_BACK, card_css()]),
    }


def note_type_schemas() -> dict[str, Schema]:
    """What Anki matches each note type on, read off the note types this module writes."""
    return {
        name: Schema(
            id=note_type.model_id,
            kind="cloze" if note_type.model_type == genanki.Model.CLOZE else "basic",
            fields=tuple(field["name"] for field in note_type.fields),
            templates=tuple(template["name"] for template in note_type.templates),
            sort_field=note_type.sort_field_index,
        )
        for name, note_type in (("basic", _basic_note_type()), ("cloze", _cloze_note_type()))
    }


@dataclass(frozen=True)
class Card:
    """One card of a note as Anki shows it: the HTML of its question and answer sides.

    `ordinal` is Anki's card number, from 1: the `cardN` class on the page, and for a cloze
    note the number of the deletion the card asks for.
    """

    note_id: str
    ordinal: int
    question: str
    answer: str


def cards(note: RenderedNote) -> tuple[Card, ...]:
    """The cards Anki makes of `note`, each side filled in from the note type's templates.

    Fields, `{{#Field}}...{{/Field}}` sections, `{{FrontSide}}` and `{{cloze:Text}}` are filled
    in as Anki does, to the same HTML, so what a preview shows is what a reviewer will see
    (the note type's CSS is `card_css()`). A cloze note gives one card per deletion number.
    """
    fields = _fields(note)
    if note.kind == "basic":
        front, back, ordinals = BASIC_FRONT, BASIC_BACK, [1]
    else:
        front, back = CLOZE_FRONT, CLOZE_BACK
        ordinals = sorted({int(n) for n, _, _ in _CLOZE.findall(note.front)})
    made = []
    for ordinal in ordinals:
        question = _fill(front, fields, ordinal, front_side="", answer=False)
        answer = _fill(back, fields, ordinal, front_side=question, answer=True)
        made.append(Card(note.id, ordinal, question, answer))
    return tuple(made)


def _fields(note: RenderedNote) -> dict[str, str]:
    """The note's fields by name, in the note type's order.

    The line naming the note's sources has no field of its own: a new field would make Anki
    keep a second copy of the note type and stop updating users' notes (issue #15). It ends
    the basic type's `Verified` field, which says how each note was checked, and the cloze
    type's `Extra`.
    """
    if note.kind == "basic":
        evidence = f'<div class="evidence">{note.verified}</div>' if note.verified else ""
        values = [note.id, note.front, note.back, note.code, note.figure, evidence + note.sources]
        return dict(zip(BASIC_FIELDS, values, strict=True))
    extra = note.back + note.sources
    return dict(zip(CLOZE_FIELDS, [note.id, note.front, extra, note.figure], strict=True))


_SECTION = re.compile(r"\{\{([#^])([^{}]+?)\}\}(.*?)\{\{/\2\}\}", re.DOTALL)
_REPLACEMENT = re.compile(r"\{\{([^{}#^/]+?)\}\}")
_CLOZE = re.compile(r"\{\{c(\d+)::(.*?)(?:::(.*?))?\}\}", re.DOTALL)
# Anki counts a field holding only whitespace and empty line breaks as empty.
_EMPTY_FIELD = re.compile(r"(?:\s|&nbsp;|<br\s*/?>|</?div>)*")


def _fill(
    template: str, fields: Mapping[str, str], ordinal: int, *, front_side: str, answer: bool
) -> str:
    def section(match: re.Match[str]) -> str:
        shown = not _EMPTY_FIELD.fullmatch(fields[match.group(2).strip()])
        return match.group(3) if shown == (match.group(1) == "#") else ""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "FrontSide":
            return front_side
        if name.startswith("cloze:"):
            return _cloze(fields[name.removeprefix("cloze:")], ordinal, answer=answer)
        return fields[name]

    previous = None
    while previous != template:  # sections may nest
        previous, template = template, _SECTION.sub(section, template)
    return _REPLACEMENT.sub(replace, template)


def _cloze(text: str, ordinal: int, *, answer: bool) -> str:
    """A cloze field for card `ordinal`, in the markup Anki gives each deletion."""

    def deletion(match: re.Match[str]) -> str:
        number, content, hint = int(match.group(1)), match.group(2), match.group(3)
        if number != ordinal:
            return f'<span class="cloze-inactive" data-ordinal="{number}">{content}</span>'
        if answer:
            return f'<span class="cloze" data-ordinal="{number}">{content}</span>'
        asked = _attribute(content)
        return (
            f'<span class="cloze" data-cloze="{asked}" data-ordinal="{number}">'
            f"[{hint or '...'}]</span>"
        )

    return _CLOZE.sub(deletion, text)


def _attribute(text: str) -> str:
    """Text escaped for an HTML attribute as Anki escapes a deletion's answer."""
    named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
    return "".join(
        c if c.isascii() and c.isalnum() else named.get(c, f"&#x{ord(c):02X};") for c in text
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
    basic, cloze = _basic_note_type(), _cloze_note_type()
    decks: dict[str, genanki.Deck] = {}
    card_count = 0
    for note in notes:
        full_name = f"{name}::{note.deck}"
        if full_name not in decks:
            decks[full_name] = genanki.Deck(deck_id(full_name), full_name, description)
        anki_note = genanki.Note(
            model=basic if note.kind == "basic" else cloze,
            fields=list(_fields(note).values()),
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
