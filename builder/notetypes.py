"""Note types: the two kinds of note Anki stores, their fields, templates, CSS and schemas.

Identity lives here: note type ids are constants, so every build gives the same note types to
Anki. `builder.package` writes them with genanki, `builder.templates` fills their templates in
as Anki does for the preview and the tests, and `builder.release` guards their schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from pygments.formatters import HtmlFormatter

from builder.notes import NoteKind, Schema
from builder.render import CODE_CLASS, RenderedNote

# Never change the ids, fields, template names or sort fields: Anki recognises the note types
# by id, and a changed field list or template list makes it keep a second copy of the note
# type and refuse to update users' notes, which is why tests/test_notetypes.py pins them.
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
class NoteType:
    """One note type as Anki keeps it: one template, whose name is `template`."""

    id: int
    name: str
    kind: NoteKind
    fields: tuple[str, ...]
    template: str
    front: str
    back: str
    sort_field: int = 1

    @property
    def schema(self) -> Schema:
        """What Anki matches the note type on."""
        return Schema(self.id, self.kind, self.fields, (self.template,), self.sort_field)


BASIC = NoteType(
    id=1_734_019_561,
    name="CV Interview Prep: Basic",
    kind="basic",
    fields=("Id", "Front", "Back", "Code", "Figure", "Verified"),
    template="Card 1",
    front=BASIC_FRONT,
    back=BASIC_BACK,
)
CLOZE = NoteType(
    id=1_734_019_562,
    name="CV Interview Prep: Cloze",
    kind="cloze",
    fields=("Id", "Text", "Extra", "Figure"),
    template="Cloze",
    front=CLOZE_FRONT,
    back=CLOZE_BACK,
)


def note_types() -> dict[NoteKind, NoteType]:
    """The note type of each kind of note (looked up when called: tests replace one)."""
    return {"basic": BASIC, "cloze": CLOZE}


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


def note_type_texts() -> dict[str, str]:
    """Everything Anki keeps of each note type, as one text each, for its stamp."""
    return {
        kind: "\x1f".join([*note_type.fields, note_type.front, note_type.back, card_css()])
        for kind, note_type in note_types().items()
    }


def note_type_schemas() -> dict[str, Schema]:
    """What Anki matches each note type on."""
    return {kind: note_type.schema for kind, note_type in note_types().items()}


def fields(note: RenderedNote) -> dict[str, str]:
    """The note's fields by name, in the note type's order.

    The line naming the note's sources has no field of its own: a new field would make Anki
    keep a second copy of the note type and stop updating users' notes (issue #15). It ends
    the basic type's `Verified` field, which says how each note was checked, and the cloze
    type's `Extra`.
    """
    if note.kind == "basic":
        evidence = f'<div class="evidence">{note.verified}</div>' if note.verified else ""
        values = [note.id, note.front, note.back, note.code, note.figure, evidence + note.sources]
        return dict(zip(note_types()["basic"].fields, values, strict=True))
    extra = note.back + note.sources
    values = [note.id, note.front, extra, note.figure]
    return dict(zip(note_types()["cloze"].fields, values, strict=True))
