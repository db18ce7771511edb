"""The pipeline: `check` is a build minus the writing, and one run names every problem of every
stage."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.cli import main
from builder.pipeline import Request, run
from tests.conftest import MakeProject, Run, edit, outputs, write_project

Deckbuild = Callable[..., Run]

NOTES = """
    deck: Detection
    tags: [topic::detection]
    notes:
      - id: iou-touching
        front: What is the IoU of two boxes that only touch?
        back: Zero, the intersection has no area.
        sources: [Fixture 2026]
        figure: square
      - id: nms-cloze
        cloze: NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a {{c2::threshold}}.
        sources: [Fixture 2026]
      - id: code-double
        front: Write `double(x)` for an array `x`.
        sources: [Fixture 2026]
        code: |
          def double(x):
              return 2 * x
        tests:
          call: double
          cases:
            - name: doubles every element
              args: [[1, 2]]
              expect: [2, 4]
            - name: doubles a negative
              args: [[-1]]
              expect: [-2]
"""
FIGURE = """
    def draw(fig, variant, code):
        fig.subplots().plot([0, 1], [0, 1])
"""
RECIPES = {
    "decks/all.yaml": "name: Everything\n",
    "decks/code.yaml": "name: Code Only\ninclude: kind::code\n",
}


@pytest.fixture(scope="module")
def released_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("released")
    write_project(root, {"source/detection.yaml": NOTES, "figures/square.py": FIGURE, **RECIPES})
    assert main(["build", "--project", str(root), "--jobs", "2"]) == 0
    return root


@pytest.fixture
def released(released_once: Path, tmp_path: Path) -> Path:
    """A project built once, so that its notes.lock records a release (a copy for each test,
    with the cache of that build: nothing is drawn or verified again unless a test changes it).
    """
    return Path(shutil.copytree(released_once, tmp_path / "project"))


def delete_note(root: Path) -> None:
    source = root / "source" / "detection.yaml"
    text = source.read_text(encoding="utf-8")
    start, end = text.index("  - id: nms-cloze"), text.index("  - id: code-double")
    source.write_text(text[:start] + text[end:], encoding="utf-8")


BAD_INPUTS: dict[str, tuple[Callable[[Path], object], tuple[str, ...], str]] = {
    "a released note deleted": (
        delete_note,
        (),
        "nms-cloze: this released note is missing from source/",
    ),
    "a note with an unknown key": (
        lambda root: edit(root / "source/detection.yaml", "    back: Zero", "    bak: Zero"),
        (),
        "unknown key 'bak' in a note (did you mean 'back'?)",
    ),
    "a recipe with a typo in a tag": (
        lambda root: edit(root / "decks/code.yaml", "kind::code", "kind::cod"),
        (),
        "decks/code.yaml:2: tag pattern 'kind::cod' matches no tag of any note "
        "(did you mean 'kind::code'?)",
    ),
    "a recipe that selects no note": (
        lambda root: edit(root / "decks/code.yaml", "kind::code", "kind::code and not kind::code"),
        (),
        "decks/code.yaml:1: this recipe selects no note",
    ),
    "a typo on the command line": (
        lambda root: None,
        ("--tags", "topic::detecton", "--output", "x.apkg"),
        "--tags: tag pattern 'topic::detecton' matches no tag of any note "
        "(did you mean 'topic::detection'?)",
    ),
    "an unknown recipe": (
        lambda root: None,
        ("cod",),
        "command line: no recipe named 'cod' (did you mean 'code'? recipes: all, code)",
    ),
    "an unknown figure": (
        lambda root: edit(root / "source/detection.yaml", "figure: square", "figure: sqare"),
        (),
        "unknown figure 'sqare': there is no figures/sqare.py; did you mean 'square'?",
    ),
    "a damaged lock file": (
        lambda root: (root / "notes.lock").write_text("{", encoding="utf-8"),
        (),
        "notes.lock:1: the lock file is damaged",
    ),
    "a missing source under --strict": (
        lambda root: edit(
            root / "source/detection.yaml", "    sources: [Fixture 2026]\n    fig", "    fig"
        ),
        ("--strict",),
        "iou-touching: no 'sources'",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_check_exits_2_for_every_input_build_refuses_and_says_the_same(
    released: Path, deckbuild: Deckbuild, case: str
) -> None:
    spoil, args, message = BAD_INPUTS[case]
    spoil(released)
    before = outputs(released)

    checked = deckbuild(released, "check", *args)
    built = deckbuild(released, "build", *args)

    assert (checked.status, built.status) == (2, 2), checked.err + built.err
    assert message in checked.err
    assert "Traceback" not in checked.err
    problems = [line for line in built.err.splitlines() if not line.startswith("deckbuild:")]
    assert [line for line in checked.err.splitlines() if not line.startswith("deckbuild:")] == (
        problems
    )
    assert outputs(released) == before


def test_check_exits_1_like_build_when_an_answer_fails(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / "source/detection.yaml", "return 2 * x", "return 3 * x")

    checked = deckbuild(released, "check")

    assert checked.status == 1
    assert deckbuild(released, "build").status == 1


def test_one_run_names_the_problems_of_every_stage(released: Path, deckbuild: Deckbuild) -> None:
    edit(released / "source/detection.yaml", "return 2 * x", "return 3 * x")  # verification
    edit(released / "source/detection.yaml", "figure: square", "figure: sqare")  # drawing
    (released / "source" / "other.yaml").write_text(  # loading
        "deck: Other\nnotes:\n  - id: x\n    front: Q?\n", encoding="utf-8"
    )
    (released / "decks" / "broken.yaml").write_text("nme: Broken\n", encoding="utf-8")  # recipes
    (released / "source" / "media").mkdir()
    edit(released / "source/detection.yaml", "back: Zero, the", 'back: "![boxes](gone.png) the')
    edit(released / "source/detection.yaml", "has no area.", 'has no area."')
    delete_note(released)  # the release guard

    run = deckbuild(released, "check")

    assert run.status == 2
    for expected in (
        "source/other.yaml:3: x: missing key 'back' (the answer)",
        "decks/broken.yaml:1: unknown key 'nme' in a recipe (did you mean 'name'?)",
        "code-double: case 'doubles every element' failed",
        "iou-touching: unknown figure 'sqare'",
        "iou-touching: image 'gone.png' is not in",
        "nms-cloze: this released note is missing from source/",
        "deckbuild: 1 code answer failed verification; nothing was written",
        "deckbuild: 4 problem(s) in the input; nothing was written",
        "deckbuild: 1 change(s) would break notes that users already have",
    ):
        assert expected in run.err, expected


def test_the_summary_counts_failed_answers_not_failed_cases(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / "source/detection.yaml", "return 2 * x", "return 3 * x")

    run = deckbuild(released, "check")

    assert run.err.count("failed (note at") == 2  # both cases of the one answer
    assert "deckbuild: 1 code answer failed verification" in run.err


def test_a_note_whose_own_problems_hide_it_is_not_also_called_missing(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / "source/detection.yaml", "cloze: NMS", "clze: NMS")

    run = deckbuild(released, "check")

    assert run.status == 2
    assert "nms-cloze: unknown key 'clze'" in run.err
    assert "missing from source/" not in run.err


def test_a_file_that_does_not_parse_does_not_make_its_notes_missing(
    released: Path, deckbuild: Deckbuild
) -> None:
    edit(released / "source/detection.yaml", "back: Zero,", "back: 'Zero,")

    run = deckbuild(released, "check")

    assert run.status == 2
    assert "source/detection.yaml:" in run.err and "YAML syntax error" in run.err
    assert "missing from source/" not in run.err


def test_warnings_are_printed_and_errors_under_strict(released: Path, deckbuild: Deckbuild) -> None:
    long_back = "back: " + "word " * 70
    edit(released / "source/detection.yaml", "back: Zero, the intersection has no area.", long_back)

    relaxed = deckbuild(released, "check")
    strict = deckbuild(released, "check", "--strict")

    warning = "iou-touching: the back has 70 words, over 60"
    assert relaxed.status == 0, relaxed.err
    assert f"warning: source/detection.yaml:4: {warning}" in relaxed.err
    assert "all good (1 warning)" in relaxed.out
    assert strict.status == 2
    assert f"source/detection.yaml:4: {warning}" in strict.err
    assert "deckbuild: 1 warning, errors under --strict; nothing was written" in strict.err


def test_the_pipeline_runs_in_process_and_returns_what_it_found(released: Path) -> None:
    edit(released / "source/detection.yaml", "figure: square", "figure: sqare")

    result = run(Request(released, until="check", jobs=1))

    assert result.status == 2
    assert [p.message.split(":")[0] for p in result.problems] == ["unknown figure 'sqare'"]
    assert {note.id for note in result.notes} == {"iou-touching", "nms-cloze", "code-double"}
    assert [recipe.output for recipe in result.recipes] == ["all.apkg", "code.apkg"]
    assert result.verification is not None and result.verification.cached == 1
    assert result.written == {}


def test_the_version_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    from builder.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("deckbuild 0.")


def test_a_recipe_tag_typo_is_located_at_its_line(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/detection.yaml": NOTES,
            "figures/square.py": FIGURE,
            "decks/hard.yaml": textwrap.dedent(
                """\
                name: Hard
                description: The hard ones.
                include: topic::detection
                exclude: kind::concpt
                """
            ),
        },
        recipe=False,
    )

    result = run(Request(root, until="check", jobs=1))

    assert [str(p) for p in result.problems] == [
        "decks/hard.yaml:4: tag pattern 'kind::concpt' matches no tag of any note "
        "(did you mean 'kind::code'?)"
    ]
