"""Templates: the cards of a note, filled in exactly as Anki fills them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from builder.templates import cards
from tests.conftest import package_notes, rendered_note


def test_cards_are_filled_in_exactly_as_anki_fills_them(tmp_path: Path) -> None:
    # The preview shows these sides as what a reviewer will see: they must be Anki's own HTML.
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    cloze = replace(rendered_note("cloze"), kind="cloze", back="<p>Extra.</p>")
    notes = [
        rendered_note("plain", back="<p>A.</p>"),
        rendered_note("no-back", back=""),
        replace(
            rendered_note("coded"),
            code='<div class="highlight"><pre>x = 1</pre></div>',
            verified="Verified: 3 cases",
            figure='<img class="figure" src="f.png">',
            sources='<div class="source">Source: He et al. 2016 &amp; more</div>',
        ),
        replace(rendered_note("sourced"), sources='<div class="source">Source: X</div>'),
        replace(
            cloze,
            front="<p>{{c1::IoU}} over a {{c3::threshold::a number}}; {{c1::again}}, "
            "'quoted' {{c3::<code>x &lt; y</code>\nor é}}</p>",
        ),
        replace(cloze, id="bare-cloze", front="{{c2::only}} this", back=""),
        replace(
            cloze,
            id="sourced-cloze",
            front="{{c1::IoU}}",
            back="",
            sources='<div class="source">Source: Y</div>',
        ),
    ]
    (tmp_path / "anki").mkdir()
    collection = Collection(str(tmp_path / "anki" / "collection.anki2"))
    try:
        collection.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=str(package_notes(tmp_path, "deck.apkg", notes)),
                options=ImportAnkiPackageOptions(),
            )
        )
        shown = {}
        for card_id in collection.find_cards(""):
            card = collection.get_card(card_id)
            sides = card.render_output()
            shown[card.note()["Id"], card.ord + 1] = (sides.question_text, sides.answer_text)
    finally:
        collection.close()
    ours = {(c.note_id, c.ordinal): (c.question, c.answer) for n in notes for c in cards(n)}
    assert sorted(ours) == [
        ("bare-cloze", 2),
        ("cloze", 1),
        ("cloze", 3),
        ("coded", 1),
        ("no-back", 1),
        ("plain", 1),
        ("sourced", 1),
        ("sourced-cloze", 1),
    ]
    assert ours == shown


def test_the_source_line_ends_the_back_and_never_shows_on_the_front() -> None:
    line = '<div class="source">Source: He et al. 2016</div>'
    coded = replace(
        rendered_note("coded"),
        code='<div class="highlight"><pre>x = 1</pre></div>',
        verified="Verified: 3 cases",
        figure='<img class="figure" src="f.png">',
        sources=line,
    )
    cloze = replace(rendered_note("cloze"), kind="cloze", front="{{c1::IoU}}", sources=line)
    for note in (coded, cloze, replace(rendered_note("plain"), sources=line)):
        (card,) = cards(note)
        assert line not in card.question
        assert card.answer.count(line) == 1
    (card,) = cards(coded)
    # Below the answer, its code and its figure, after the line saying how the code was checked.
    order = [card.answer.index(part) for part in ("x = 1", "f.png", "Verified: 3", "Source:")]
    assert order == sorted(order)
