"""Rebuilds do only what changed: answers, figures and HTML are remembered in .cache/ and come
back exactly as a fresh build would make them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from builder.cache import Store, from_json, to_json
from builder.load import load
from builder.notes import Case, Note, Property
from builder.notes import Tests as CodeTests  # as `Tests`, pytest would try to collect it
from builder.problems import Location, Problem
from builder.render import render
from tests.conftest import MakeProject, Run, edit, note

Deckbuild = Callable[..., Run]
SOURCE = "source/coding.yaml"
KINDS = (Note, CodeTests, Case, Property, Location, Problem)

NOTES = """
    deck: Coding
    notes:
      - id: code-double
        front: Write `double(x)` for an array `x`.
        code: |
          def double(x):
              return 2 * x
        tests:
          call: double
          cases:
            - name: doubles every element
              args: [[1, 2]]
              expect: [2, 4]
      - id: code-triple
        front: Write `triple(x)` for an array `x`.
        code: |
          def triple(x):
              return 3 * x
        tests:
          call: triple
          cases:
            - name: triples every element
              args: [[1, 2]]
              expect: [3, 6]
      - id: plain
        front: What is the IoU of two boxes that only touch?
        back: |
          Zero: the intersection has no area.
      - id: gap
        cloze: NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a threshold.
"""


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project({"source/coding.yaml": NOTES})


def cache_entries(project: Path) -> dict[str, bytes]:
    """Every entry and blob of the project's cache (not the record of which runs used them)."""
    cache = project / ".cache"
    files = [p for p in cache.rglob("*") if p.is_file() and p.name != "uses.json"]
    return {str(p.relative_to(cache)): p.read_bytes() for p in files}


def render_memo(cache: Path) -> Path:
    """The one entry in which `render` remembers HTML under `cache`."""
    (memo,) = (cache / "render").iterdir()
    return memo


def rendered_texts(project: Path) -> set[str]:
    return set(json.loads(render_memo(project / ".cache").read_bytes()))


def test_a_rebuild_with_nothing_changed_runs_no_answer_and_rewrites_no_entry(
    project: Path, deckbuild: Deckbuild
) -> None:
    first = deckbuild(project, "build")
    cached = cache_entries(project)

    again = deckbuild(project, "build")

    assert "(2 run, 0 from cache)" in first.out, first.err
    assert "(0 run, 2 from cache)" in again.out, again.err
    assert cache_entries(project) == cached


def test_editing_one_code_answer_verifies_exactly_that_answer_again(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "build").status == 0
    texts = rendered_texts(project)

    edit(project / SOURCE, "return 3 * x", "return x * 3")
    again = deckbuild(project, "build")

    assert again.status == 0, again.err
    assert "(1 run, 1 from cache)" in again.out
    # Its highlighted code is the only HTML made anew; the stale one is dropped.
    assert len(rendered_texts(project) - texts) == 1
    assert len(texts - rendered_texts(project)) == 1


def test_editing_one_plain_note_renders_only_its_text_again(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "build").status == 0
    texts = rendered_texts(project)

    edit(project / SOURCE, "Zero: the intersection", "Zero, since the intersection")
    again = deckbuild(project, "build")

    assert "(0 run, 2 from cache)" in again.out, again.err
    assert len(rendered_texts(project) - texts) == 1
    assert len(texts - rendered_texts(project)) == 1


NOTES_TO_RENDER = (
    note("math", front="IoU of $A$ and $B$?", back="$$\\frac{|A \\cap B|}{|A \\cup B|}$$"),
    note("code", front="Write `f`.", code="def f(x):\n    return x < 1\n"),
    note("table", front="Q", back="| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\nx = 1\n```"),
    note("cloze", kind="cloze", cloze="The {{c1::backbone}} extracts features.", back="More."),
    note("same-text", front="IoU of $A$ and $B$?", back="Twice the same front."),
)


def test_html_from_the_cache_is_what_rendering_afresh_gives(tmp_path: Path) -> None:
    fresh = render(NOTES_TO_RENDER, evidence={}, figures={})

    first = render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))
    second = render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))

    assert first == fresh
    assert second == fresh


def test_a_text_rendered_before_comes_from_the_cache(tmp_path: Path) -> None:
    render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))
    memo = render_memo(tmp_path)
    # Plant a marker under every remembered text: a text that is not rendered again shows it.
    memo.write_text(json.dumps(dict.fromkeys(json.loads(memo.read_bytes()), "<p>kept</p>")))

    again = render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))

    assert {n.front for n in again.notes} == {"<p>kept</p>"}
    assert {n.code for n in again.notes if n.id == "code"} == {"<p>kept</p>"}


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not json",
        json.dumps({"key": "<p>cut short</p>"}).encode()[:-3],
        json.dumps(["a list"]).encode(),
        json.dumps({"key": 3}).encode(),
    ],
)
def test_a_damaged_render_cache_is_ignored_and_replaced(tmp_path: Path, damage: bytes) -> None:
    fresh = render(NOTES_TO_RENDER, evidence={}, figures={})
    render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))
    memo = render_memo(tmp_path)
    whole = memo.read_bytes()
    memo.write_bytes(damage)

    again = render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path))

    assert again == fresh
    assert render(NOTES_TO_RENDER, evidence={}, figures={}, cache=Store(tmp_path)) == fresh
    assert json.loads(memo.read_bytes()) == json.loads(whole)  # rewritten whole


BROKEN = """
    deck: Broken
    notes:
      - id: no-back
        front: A question without an answer
"""


def test_notes_from_the_load_cache_are_what_reading_the_files_gives(project: Path) -> None:
    (project / "source" / "broken.yaml").write_text(BROKEN.replace("\n    ", "\n").strip())
    fresh = load(project)

    first = load(project, cache=Store(project / ".cache"))
    second = load(project, cache=Store(project / ".cache"))

    assert fresh.problems  # the broken file's problems are remembered too
    assert first == fresh
    assert second == fresh


def test_a_file_read_before_comes_from_the_load_cache(project: Path) -> None:
    cache = Store(project / ".cache")
    load(project, cache=cache)
    (entry,) = (project / ".cache" / "load").glob("*.json")
    notes, problems = from_json(json.loads(entry.read_bytes()), KINDS)
    # Plant a marker in the remembered notes: a file that is not parsed again shows it.
    planted = [[replace(n, front="kept") for n in notes], problems]
    entry.write_text(json.dumps(to_json(planted)))

    again = load(project, cache=cache)

    assert {note.front for note in again.notes} == {"kept"}


def test_an_edited_file_is_read_again(project: Path) -> None:
    cache = Store(project / ".cache")
    load(project, cache=cache)

    edit(project / SOURCE, "Zero: the intersection", "Zero, since the intersection")
    again = load(project, cache=cache)

    assert again == load(project)
    assert any(n.back.startswith("Zero, since") for n in again.notes)


@pytest.mark.parametrize(
    "damage", [b"", b"not json", b'"a string"', b'{"@": "os.system", "v": ["true"]}']
)
def test_a_damaged_load_cache_entry_is_ignored_and_replaced(project: Path, damage: bytes) -> None:
    cache = Store(project / ".cache")
    load(project, cache=cache)
    (entry,) = (project / ".cache" / "load").glob("*.json")
    entry.write_bytes(damage)

    assert load(project, cache=cache) == load(project)
    assert from_json(json.loads(entry.read_bytes()), KINDS)[0]  # written again, whole
