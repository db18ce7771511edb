"""Recipes and tag expressions: which notes go into which deck."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.notes import Note
from builder.problems import Location
from builder.recipes import (
    Recipe,
    TagExpressionError,
    load_recipes,
    matches,
    parse_tags,
    select,
    unmatched,
)
from tests.conftest import MakeProject

NMS = ("topic::detection::nms", "level::easy", "kind::code")
UNET = ("topic::segmentation", "level::medium", "kind::concept")
ADAM = ("topic::dl::optimization", "level::hard", "kind::formula")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("topic::detection", [NMS]),  # a tag matches everything below it
        ("topic::det*", [NMS]),
        ("topic::detection or topic::segmentation", [NMS, UNET]),
        ("not kind::code", [UNET, ADAM]),
        ("(topic::detection or topic::dl) and not level::easy", [ADAM]),
        ("Level::HARD", [ADAM]),  # Anki's tags ignore case
        ("topic::detect", []),  # a prefix of a tag's name is not a parent of it
    ],
)
def test_tag_expressions_select_notes(expression: str, expected: list[tuple[str, ...]]) -> None:
    tree = parse_tags(expression)
    assert [tags for tags in (NMS, UNET, ADAM) if matches(tree, tags)] == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "the tag expression is empty"),
        ("topic::a and", "the tag expression ends too early"),
        ("(topic::a or topic::b", "a '(' is never closed"),
        ("or topic::a", "expected a tag before 'or'"),
        ("topic::a topic::b", "unexpected 'topic::b' in 'topic::a topic::b'"),
    ],
)
def test_bad_tag_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(TagExpressionError, match=message.replace("(", r"\(")):
        parse_tags(expression)


def test_a_recipe_includes_and_excludes_by_tags(make_project: MakeProject) -> None:
    root = make_project(
        {
            "decks/hard-vision.yaml": """
                name: Hard Vision
                include: topic::detection or topic::segmentation
                exclude: level::easy
            """
        },
        recipe=False,
    )
    (recipe,) = load_recipes(root).recipes
    assert recipe.output == "hard-vision.apkg"
    notes = [
        Note(id=f"n{i}", location=Location(Path("s.yaml"), i), deck="D", kind="basic", tags=tags)
        for i, tags in enumerate((NMS, UNET, ADAM))
    ]
    assert [n.id for n in select(recipe, notes)] == ["n1"]


def test_recipe_problems_name_the_file_and_line(make_project: MakeProject) -> None:
    root = make_project(
        {
            "decks/a.yaml": "name: A\nincude: topic::x\n",
            "decks/b.yaml": "name: B\ninclude: topic::x and\n",
            "decks/c.yaml": "description: no name\n",
        },
        recipe=False,
    )
    assert [str(p) for p in load_recipes(root).problems] == [
        "decks/a.yaml:2: unknown key 'incude' in a recipe (did you mean 'include'?)",
        "decks/b.yaml:2: 'include': the tag expression ends too early",
        "decks/c.yaml:1: missing key 'name': the deck's name in Anki",
    ]


def test_two_recipes_may_not_write_the_same_file(make_project: MakeProject) -> None:
    root = make_project(
        {"decks/a.yaml": "name: A\noutput: x.apkg\n", "decks/b.yaml": "name: B\noutput: x.apkg\n"},
        recipe=False,
    )
    assert [str(p) for p in load_recipes(root).problems] == [
        "decks/b.yaml:1: output 'x.apkg' is also written by the recipe at decks/a.yaml:1"
    ]


def test_a_recipe_without_include_takes_every_note() -> None:
    recipe = Recipe("All", "all.apkg", Location(Path("decks/all.yaml"), 1))
    note = Note(id="n", location=Location(Path("s.yaml"), 1), deck="D", kind="basic")
    assert select(recipe, [note]) == (note,)


def test_a_tag_pattern_that_matches_no_tag_is_a_problem_with_a_guess() -> None:
    notes = [
        Note(
            "a", Location(Path("source/a.yaml"), 3), "A", "basic", tags=("topic::detection::nms",)
        ),
        Note(
            "b", Location(Path("source/a.yaml"), 9), "A", "basic", tags=("topic::detection::iou",)
        ),
    ]
    at = Location(Path("decks/d.yaml"), 2)
    recipe = Recipe(
        "D",
        "d.apkg",
        Location(Path("decks/d.yaml"), 1),
        include=parse_tags("topic::detecton or level::easy"),
        include_at=at,
    )

    assert [str(p) for p in unmatched(recipe, notes)] == [
        "decks/d.yaml:2: tag pattern 'topic::detecton' matches no tag of any note "
        "(did you mean 'topic::detection'?)",
        "decks/d.yaml:2: tag pattern 'level::easy' matches no tag of any note",
    ]


def test_a_recipe_that_selects_no_note_is_a_problem() -> None:
    notes = [Note("a", Location(Path("source/a.yaml"), 3), "A", "basic", tags=("kind::code",))]
    recipe = Recipe(
        "D", "d.apkg", Location(Path("decks/d.yaml"), 1), include=parse_tags("not kind::code")
    )

    assert [str(p) for p in unmatched(recipe, notes)] == [
        "decks/d.yaml:1: this recipe selects no note"
    ]
