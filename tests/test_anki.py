"""The built decks in real Anki: import, render every card, and update an existing import."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

from builder.load import load
from builder.recipes import load_recipes, select
from tests.conftest import REPO, MakeProject, Run

if TYPE_CHECKING:  # at run time anki.cards must follow anki.collection (a circular import)
    from anki.cards import CardId

IMAGE = re.compile(r'<img[^>]+src="([^"]+)"')


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    (tmp_path / "anki").mkdir()
    col = Collection(str(tmp_path / "anki" / "collection.anki2"))
    yield col
    col.close()


def import_package(col: Collection, path: Path) -> None:
    # The defaults of Anki's import dialog: update notes and note types "if newer", no merge.
    col.import_anki_package(
        ImportAnkiPackageRequest(package_path=str(path), options=ImportAnkiPackageOptions())
    )


def reviews(col: Collection, card_id: CardId) -> int:
    """How many times the card was answered: its rows in Anki's review log."""
    assert col.db is not None  # an open collection
    return int(col.db.scalar("select count() from revlog where cid = ?", card_id))


def recipe_ids() -> list[str]:
    return [r.location.path.stem for r in load_recipes(REPO).recipes]


@pytest.mark.parametrize("recipe_name", recipe_ids())
def test_every_recipe_imports_and_every_card_renders(
    built_repo: Path, recipe_name: str, collection: Collection
) -> None:
    (recipe,) = [r for r in load_recipes(built_repo).recipes if r.location.path.stem == recipe_name]
    notes = select(recipe, load(built_repo).notes)
    import_package(collection, built_repo / "dist" / recipe.output)

    assert collection.note_count() == len(notes)
    expected_decks = {f"{recipe.name}::{n.deck}" for n in notes}
    assert expected_decks <= {d.name for d in collection.decks.all_names_and_ids()}
    assert set(collection.tags.all()) == {t for n in notes for t in n.tags}
    cloze_cards = sum(
        len(set(re.findall(r"\{\{c(\d+)::", n.cloze))) for n in notes if n.kind == "cloze"
    )
    basic_cards = sum(1 for n in notes if n.kind == "basic")
    assert collection.card_count() == basic_cards + cloze_cards

    media_names = {p.name for p in Path(collection.media.dir()).iterdir()}
    figure_of = {n.id: n.figure for n in notes if n.figure}
    for card_id in collection.find_cards(""):
        card = collection.get_card(card_id)
        output = card.render_output()
        question, answer = output.question_text, output.answer_text
        # Anki renders a template error as the same message on both sides.
        assert question != answer and '<div class="front">' in question, question
        for side in (question, answer):
            assert "{{" not in side, f"unreplaced field in card {card_id}"
            assert set(IMAGE.findall(side)) <= media_names
        figure = figure_of.get(card.note()["Id"])
        if figure:  # both variants of the note's figure are on its back, and in the media
            shown = [name for name in IMAGE.findall(answer) if name.startswith(f"fig-{figure}-")]
            assert len(shown) == 2 and set(shown) <= media_names, (card.note()["Id"], shown)


def test_an_edited_note_updates_in_place_and_keeps_its_reviews(
    make_project: MakeProject,
    deckbuild: Callable[..., Run],
    collection: Collection,
) -> None:
    note = """
        deck: Detection
        notes:
          - id: nms-threshold
            front: What does NMS remove?
            back: {back}
          - id: iou-touching
            front: What is the IoU of two boxes that only touch?
            back: Zero.
    """
    root = make_project({"source/a.yaml": note.format(back="Overlapping boxes.")})
    assert deckbuild(root, "build").status == 0
    import_package(collection, root / "dist" / "all.apkg")
    (card_id,) = collection.find_cards("Id:nms-threshold")
    card = collection.get_card(card_id)
    card.start_timer()  # as the reviewer does when it shows the card
    collection.sched.answerCard(card, 3)
    reviews_before = reviews(collection, card_id)
    assert reviews_before == 1
    note_types = collection.models.all_names_and_ids()

    root = make_project({"source/a.yaml": note.format(back="Lower-scoring overlapping boxes.")})
    assert deckbuild(root, "build").status == 0
    import_package(collection, root / "dist" / "all.apkg")

    assert collection.note_count() == 2
    assert collection.models.all_names_and_ids() == note_types  # no second copy
    (note_id,) = collection.find_notes("Id:nms-threshold")
    assert "Lower-scoring overlapping boxes." in collection.get_note(note_id)["Back"]
    assert collection.find_cards("Id:nms-threshold") == [card_id]
    assert reviews(collection, card_id) == 1
    assert collection.get_card(card_id).reps == 1


def test_a_retired_note_reaches_users_as_a_notice_they_can_find_and_delete(
    make_project: MakeProject,
    deckbuild: Callable[..., Run],
    collection: Collection,
) -> None:
    notes = """
        deck: Detection
        notes:
          - id: nms-cloze
            cloze: NMS drops boxes whose {{{{c1::IoU}}}} exceeds a {{{{c2::threshold}}}}.{retired}
          - id: iou-touching
            front: What is the IoU of two boxes that only touch?
            back: Zero.{retired}
          - id: nms-threshold
            front: What does NMS remove?
            back: Lower-scoring overlapping boxes.
    """
    root = make_project({"source/a.yaml": notes.format(retired="")})
    assert deckbuild(root, "build").status == 0
    import_package(collection, root / "dist" / "all.apkg")
    cards_before = {c: collection.get_card(c).did for c in collection.find_cards("")}

    retired = "\n            retired: merged into nms-threshold"
    root = make_project({"source/a.yaml": notes.format(retired=retired)})
    (root / "decks" / "all.yaml").write_text("name: Renamed Deck\n")  # cards stay where they are
    assert deckbuild(root, "build").status == 0
    import_package(collection, root / "dist" / "all.apkg")

    # Updated in place: no note lost or duplicated, every card where it was, none of them empty.
    assert collection.note_count() == 3
    assert {c: collection.get_card(c).did for c in collection.find_cards("")} == cards_before
    found = collection.find_notes("tag:deck::retired")
    assert sorted(collection.get_note(n)["Id"] for n in found) == ["iou-touching", "nms-cloze"]
    for card_id in collection.find_cards("tag:deck::retired"):
        output = collection.get_card(card_id).render_output()
        assert "no longer part of the deck" in output.question_text
        assert "merged into nms-threshold" in output.answer_text
    collection.remove_notes(found)  # what the notice asks the user to do
    assert [collection.get_note(n)["Id"] for n in collection.find_notes("")] == ["nms-threshold"]


REVIEWED_DECK = """
    deck: Detection
    tags: [topic::detection]
    notes:
      - id: nms-removes
        front: What does NMS remove?
        back: {nms_back}{nms_sources}
      - id: iou-touching
        front: What is the IoU of two boxes that only touch?
        back: Zero.{iou_sources}
      - id: coco-thresholds
        cloze: COCO averages AP over IoUs {{{{c1::0.50}}}} to {{{{c2::0.95}}}}.{coco_sources}
      - id: anchor-trivia
        front: Who drew the first anchor box?
        back: Nobody remembers.{retired}
{added}"""
SOURCES = '\n        sources: ["{}"]'
VERSION_2 = {
    "nms_back": "Boxes of the same class whose IoU with a higher-scoring kept box exceeds the "
    "threshold.",
    "nms_sources": SOURCES.format("Neubeck and Van Gool 2006, Efficient NMS (ICPR), §2"),
    "iou_sources": SOURCES.format("Everingham et al. 2010, The PASCAL VOC Challenge, §4.4"),
    "coco_sources": SOURCES.format("Lin et al. 2014, Microsoft COCO (arXiv:1405.0312)"),
    "retired": "\n        retired: trivia no interviewer asks",
    "added": """
      - id: iou-nested
        front: What is the IoU of a box and a box inside it with half its area?
        back: 0.5, the smaller area over the larger.
        sources: ["Everingham et al. 2010, The PASCAL VOC Challenge, §4.4"]
""",
}
VERSION_1 = {key: "" for key in VERSION_2} | {"nms_back": "Overlapping boxes."}


def test_a_reviewed_deck_takes_corrections_sources_and_retirements_in_place(
    make_project: MakeProject,
    deckbuild: Callable[..., Run],
    collection: Collection,
    tmp_path: Path,
) -> None:
    root = make_project({"source/a.yaml": REVIEWED_DECK.format(**VERSION_1)})
    assert deckbuild(root, "build").status == 0
    import_package(collection, root / "dist" / "all.apkg")
    for card_id in collection.find_cards(""):  # the user studies every card once
        card = collection.get_card(card_id)
        card.start_timer()
        collection.sched.answerCard(card, 3)
    before = {
        collection.get_card(c).note()["Id"] + f"/{collection.get_card(c).ord}": (
            c,
            collection.get_card(c).did,
        )
        for c in collection.find_cards("")
    }
    note_types = collection.models.all_names_and_ids()

    # Corrected, sourced, one note retired and one added: no --allow-breaking-changes needed.
    root = make_project({"source/a.yaml": REVIEWED_DECK.format(**VERSION_2)})
    run = deckbuild(root, "build")
    assert run.status == 0, run.err
    import_package(collection, root / "dist" / "all.apkg")

    assert collection.models.all_names_and_ids() == note_types  # no second note type
    ids = sorted(collection.get_note(n)["Id"] for n in collection.find_notes(""))
    assert ids == sorted(
        ["nms-removes", "iou-touching", "coco-thresholds", "anchor-trivia", "iou-nested"]
    )
    for key, (card_id, deck) in before.items():  # every card kept its place and its history
        card = collection.get_card(card_id)
        assert (card.did, card.reps) == (deck, 1), key
        assert reviews(collection, card_id) == 1
    (nms,) = collection.find_cards("Id:nms-removes")
    answer = collection.get_card(nms).render_output().answer_text
    assert "higher-scoring kept box" in answer
    assert "Source: Neubeck and Van Gool 2006, Efficient NMS (ICPR), §2" in answer
    assert "Source:" not in collection.get_card(nms).render_output().question_text
    (coco_note,) = collection.find_notes("Id:coco-thresholds")
    assert "Lin et al. 2014" in collection.get_note(coco_note)["Extra"]
    (trivia,) = collection.find_cards("Id:anchor-trivia")
    assert "no longer part of the deck" in collection.get_card(trivia).render_output().question_text
    assert collection.get_card(trivia).did == before["anchor-trivia/0"][1]  # where the user had it

    # Someone importing the corrected deck for the first time finds the notice in its own
    # subdeck, which they can delete in one step.
    (tmp_path / "fresh").mkdir()
    fresh = Collection(str(tmp_path / "fresh" / "collection.anki2"))
    try:
        import_package(fresh, root / "dist" / "all.apkg")
        deck_of = {
            fresh.get_card(c).note()["Id"]: fresh.decks.name(fresh.get_card(c).did)
            for c in fresh.find_cards("")
        }
        assert deck_of.pop("anchor-trivia") == "Test Deck::Retired"
        assert set(deck_of.values()) == {"Test Deck::Detection"}
        assert fresh.find_cards('"deck:Test Deck::Retired"') == fresh.find_cards(
            "tag:deck::retired"
        )
    finally:
        fresh.close()
