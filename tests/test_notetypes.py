"""Note types: the schema Anki matches them on never changes, and their CSS follows night mode."""

from __future__ import annotations

import genanki

from builder import notetypes
from builder.notetypes import BASIC, CLOZE
from builder.package import GUID_NAMESPACE, genanki_note_type


def test_the_note_type_schema_is_pinned() -> None:
    # Changing any of this makes Anki refuse to update users' existing notes: don't, unless the
    # release plan says how users migrate (see the README's section on updating).
    assert BASIC.id == 1_734_019_561
    assert CLOZE.id == 1_734_019_562
    assert GUID_NAMESPACE == "cv-interview-prep-deck"
    basic, cloze = genanki_note_type(BASIC), genanki_note_type(CLOZE)
    assert (basic.model_id, cloze.model_id) == (BASIC.id, CLOZE.id)
    assert basic.model_type == genanki.Model.FRONT_BACK
    assert [f["name"] for f in basic.fields] == [
        "Id",
        "Front",
        "Back",
        "Code",
        "Figure",
        "Verified",
    ]
    assert [t["name"] for t in basic.templates] == ["Card 1"]
    assert basic.sort_field_index == 1
    assert [f["name"] for f in cloze.fields] == ["Id", "Text", "Extra", "Figure"]
    assert [t["name"] for t in cloze.templates] == ["Cloze"]
    assert cloze.model_type == genanki.Model.CLOZE


def test_the_css_styles_night_mode_under_both_class_names() -> None:
    css = notetypes.card_css()
    assert ".nightMode .highlight .k" in css and ".night_mode .highlight .k" in css
    assert ".nightMode .figure-dark" in css and ".night_mode .figure-dark" in css
