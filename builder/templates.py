"""Templates: the cards Anki makes of a note, filled in as Anki fills them.

The preview shows these pages, and the tests compare them with what real Anki renders, so what
a preview shows is what a reviewer will see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from builder.notetypes import fields, note_types
from builder.render import RenderedNote


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
    in as Anki does, to the same HTML (styled by `builder.notetypes.card_css()`). A cloze note
    gives one card per deletion number.
    """
    filled = fields(note)
    note_type = note_types()[note.kind]
    ordinals = [1]
    if note.kind == "cloze":
        ordinals = sorted({int(n) for n, _, _ in _CLOZE.findall(note.front)})
    made = []
    for ordinal in ordinals:
        question = _fill(note_type.front, filled, ordinal, front_side="", answer=False)
        answer = _fill(note_type.back, filled, ordinal, front_side=question, answer=True)
        made.append(Card(note.id, ordinal, question, answer))
    return tuple(made)


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
