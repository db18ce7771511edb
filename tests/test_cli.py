"""The command line: what a user types, what they see, and what is left on disk."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MakeProject, Run

Deckbuild = Callable[..., Run]

NOTES = """
    deck: Detection
    tags: [topic::detection]
    notes:
      - id: iou-touching
        sources: [Fixture 2026]
        front: What is the IoU of two boxes that only touch?
        back: Zero, the intersection has no area.
        level: easy
        figure: square
      - id: nms-cloze
        sources: [Fixture 2026]
        cloze: NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a {{c2::threshold}}.
        level: medium
      - id: code-double
        sources: [Fixture 2026]
        front: Write `double(x)` for an array `x`.
        level: hard
        code: |
          def double(x):
              return 2 * x
        tests:
          call: double
          cases:
            - name: doubles every element
              args: [[1, 2]]
              expect: [2, 4]
"""
FIGURE = """
    def draw(fig, variant, code):
        ax = fig.subplots()
        ax.add_patch(__import__("matplotlib").patches.Rectangle((0, 0), 1, 1))
"""
RECIPES = {
    "decks/all.yaml": "name: Everything\n",
    "decks/code.yaml": "name: Code Only\ninclude: kind::code\n",
}


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(
        {"source/detection.yaml": NOTES, "figures/square.py": FIGURE, **RECIPES}, recipe=False
    )


def test_build_writes_every_recipe_and_a_summary(project: Path, deckbuild: Deckbuild) -> None:
    run = deckbuild(project, "build")
    assert run.status == 0, run.err
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["all.apkg", "code.apkg"]
    assert "verified 1 code answer, 1 case (1 run, 0 from cache)" in run.out
    lines = run.out.splitlines()
    assert any(line.split() == ["dist/all.apkg", "1", "3", "4", "2"] for line in lines), run.out
    assert any(line.split() == ["dist/code.apkg", "1", "1", "1", "0"] for line in lines), run.out
    assert (project / "notes.lock").exists()


def test_two_builds_of_the_same_checkout_are_byte_identical(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "build").status == 0
    first = (project / "dist" / "all.apkg").read_bytes()
    lock = (project / "notes.lock").read_text()
    assert deckbuild(project, "build").status == 0
    assert (project / "dist" / "all.apkg").read_bytes() == first
    assert (project / "notes.lock").read_text() == lock


def test_named_recipes_and_ad_hoc_tag_decks(project: Path, deckbuild: Deckbuild) -> None:
    assert deckbuild(project, "build", "code").status == 0
    assert [p.name for p in (project / "dist").iterdir()] == ["code.apkg"]
    run = deckbuild(
        project, "build", "--tags", "level::medium or level::hard", "--output", "x.apkg"
    )
    assert run.status == 0, run.err
    assert any(line.split()[:3] == ["dist/x.apkg", "1", "2"] for line in run.out.splitlines())


def test_an_unknown_recipe_is_named(project: Path, deckbuild: Deckbuild) -> None:
    run = deckbuild(project, "build", "cod")
    assert run.status == 2
    assert (
        "command line: no recipe named 'cod' (did you mean 'code'? recipes: all, code)" in run.err
    )


def test_bad_input_exits_2_names_every_problem_and_leaves_dist_alone(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "build").status == 0
    before = {p.name: p.read_bytes() for p in (project / "dist").iterdir()}
    lock = (project / "notes.lock").read_bytes()
    broken = NOTES.replace("front: What is", "fornt: What is").replace("level: hard", "level: 3")
    (project / "source" / "detection.yaml").write_text(textwrap.dedent(broken).lstrip())
    (project / "source" / "other.yaml").write_text(
        "deck: Other\nnotes:\n  - id: x\n    front: Q?\n"
    )
    run = deckbuild(project, "build")
    assert run.status == 2
    assert "Traceback" not in run.err
    assert run.err.splitlines() == [
        "source/detection.yaml:4: iou-touching: missing key 'front' (or 'cloze' for a cloze note)",
        "source/detection.yaml:6: iou-touching: unknown key 'fornt' in a note (did you mean "
        "'front'?); known keys: id, front, back, cloze, refs, sources, tags, level, figure, code, "
        "tests, long, retired",
        "source/detection.yaml:17: code-double: 'level' must be one of easy, medium, hard, not '3'",
        "source/other.yaml:3: x: missing key 'back' (the answer)",
        "deckbuild: 4 problem(s) in the input; nothing was written",
    ]
    assert {p.name: p.read_bytes() for p in (project / "dist").iterdir()} == before
    assert (project / "notes.lock").read_bytes() == lock


def test_a_failing_answer_exits_1_with_a_report_and_writes_nothing(
    project: Path, deckbuild: Deckbuild
) -> None:
    wrong = NOTES.replace("return 2 * x", "return 3 * x")
    (project / "source" / "detection.yaml").write_text(textwrap.dedent(wrong).lstrip())
    run = deckbuild(project, "build")
    assert run.status == 1
    assert "code-double" in run.err and "doubles every element" in run.err
    assert "deckbuild: 1 code answer failed verification; nothing was written" in run.err
    assert not (project / "dist").exists()
    assert not (project / "notes.lock").exists()


def test_an_unknown_figure_is_an_input_error(project: Path, deckbuild: Deckbuild) -> None:
    misspelt = NOTES.replace("figure: square", "figure: sqare")
    (project / "source" / "detection.yaml").write_text(textwrap.dedent(misspelt).lstrip())
    run = deckbuild(project, "check")
    assert run.status == 2
    assert run.err.splitlines() == [
        "source/detection.yaml:4: iou-touching: unknown figure 'sqare': there is no "
        "figures/sqare.py; did you mean 'square'?",
        "deckbuild: 1 problem(s) in the input; nothing was written",
    ]


def test_check_writes_no_deck_and_no_lock(project: Path, deckbuild: Deckbuild) -> None:
    run = deckbuild(project, "check")
    assert run.status == 0, run.err
    assert "checked 3 notes" in run.out
    assert not (project / "dist").exists()
    assert not (project / "notes.lock").exists()


def test_list_shows_recipes_subdecks_and_tags(project: Path, deckbuild: Deckbuild) -> None:
    run = deckbuild(project, "list")
    assert run.status == 0
    rows = [line.split() for line in run.out.splitlines()]
    assert ["code", "Code", "Only", "code.apkg", "1"] in rows
    assert ["Detection", "3"] in rows
    assert ["topic::detection", "3"] in rows
    assert ["level::hard", "1"] in rows
    assert "3 notes: 2 basic (1 with verified code), 1 cloze" in run.out
    notes = deckbuild(project, "list", "--notes", "--tags", "kind::code")
    assert [line.split()[0] for line in notes.out.splitlines()] == ["code-double"]


def test_python_dash_m_builder_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "builder", "build", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: deckbuild build" in result.stdout
