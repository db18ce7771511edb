"""Rebuilds do only what changed: answers, figures and HTML are remembered in .cache/ and come
back exactly as a fresh build would make them."""

from __future__ import annotations

import marshal
import pickle
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from builder.load import load
from builder.notes import Note
from builder.problems import Location
from builder.render import render
from tests.conftest import MakeProject, Run

Deckbuild = Callable[..., Run]

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


def edit(project: Path, old: str, new: str) -> None:
    path = project / "source" / "coding.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def cache_files(project: Path) -> dict[str, bytes]:
    cache = project / ".cache"
    return {str(p.relative_to(cache)): p.read_bytes() for p in cache.rglob("*") if p.is_file()}


def render_memo(cache: Path) -> Path:
    """The one file in which `render` remembers HTML under `cache`."""
    (memo,) = (cache / "render").iterdir()
    return memo


def rendered_texts(project: Path) -> set[str]:
    return set(marshal.loads(render_memo(project / ".cache").read_bytes()))


def test_a_rebuild_with_nothing_changed_runs_no_answer_and_rewrites_no_cache(
    project: Path, deckbuild: Deckbuild
) -> None:
    first = deckbuild(project, "build")
    cached = cache_files(project)

    again = deckbuild(project, "build")

    assert "(2 run, 0 from cache)" in first.out, first.err
    assert "(0 run, 2 from cache)" in again.out, again.err
    assert cache_files(project) == cached


def test_editing_one_code_answer_verifies_exactly_that_answer_again(
    project: Path, deckbuild: Deckbuild
) -> None:
    assert deckbuild(project, "build").status == 0
    texts = rendered_texts(project)

    edit(project, "return 3 * x", "return x * 3")
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

    edit(project, "Zero: the intersection", "Zero, since the intersection")
    again = deckbuild(project, "build")

    assert "(0 run, 2 from cache)" in again.out, again.err
    assert len(rendered_texts(project) - texts) == 1
    assert len(texts - rendered_texts(project)) == 1


def note(note_id: str, **fields: object) -> Note:
    defaults: dict[str, object] = {
        "location": Location(Path("source/a.yaml"), 3),
        "deck": "A",
        "kind": "basic",
    }
    return Note(id=note_id, **{**defaults, **fields})  # type: ignore[arg-type]


NOTES_TO_RENDER = (
    note("math", front="IoU of $A$ and $B$?", back="$$\\frac{|A \\cap B|}{|A \\cup B|}$$"),
    note("code", front="Write `f`.", code="def f(x):\n    return x < 1\n"),
    note("table", front="Q", back="| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\nx = 1\n```"),
    note("cloze", kind="cloze", cloze="The {{c1::backbone}} extracts features.", back="More."),
    note("same-text", front="IoU of $A$ and $B$?", back="Twice the same front."),
)


def test_html_from_the_cache_is_what_rendering_afresh_gives(tmp_path: Path) -> None:
    fresh = render(NOTES_TO_RENDER, evidence={}, figures={})

    first = render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)
    second = render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)

    assert first == fresh
    assert second == fresh


def test_a_text_rendered_before_comes_from_the_cache(tmp_path: Path) -> None:
    render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)
    memo = render_memo(tmp_path)
    # Plant a marker under every remembered text: a text that is not rendered again shows it.
    memo.write_bytes(marshal.dumps(dict.fromkeys(marshal.loads(memo.read_bytes()), "<p>kept</p>")))

    again = render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)

    assert {n.front for n in again.notes} == {"<p>kept</p>"}
    assert {n.code for n in again.notes if n.id == "code"} == {"<p>kept</p>"}


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not marshal data",
        marshal.dumps({"key": "<p>cut short</p>"})[:-3],
        marshal.dumps(["a list"]),
        marshal.dumps({"key": 3}),
    ],
)
def test_a_damaged_render_cache_is_ignored_and_replaced(tmp_path: Path, damage: bytes) -> None:
    fresh = render(NOTES_TO_RENDER, evidence={}, figures={})
    render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)
    memo = render_memo(tmp_path)
    whole = memo.read_bytes()
    memo.write_bytes(damage)

    again = render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)

    assert again == fresh
    assert render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path) == fresh
    assert marshal.loads(memo.read_bytes()) == marshal.loads(whole)  # rewritten whole


def test_a_render_cache_left_by_an_older_renderer_is_removed(tmp_path: Path) -> None:
    (tmp_path / "render").mkdir()
    older = [tmp_path / "render" / f"0123456789abcdef01234567.{end}" for end in ("json", "marshal")]
    for path in older:
        path.write_bytes(b"made by an older renderer")

    render(NOTES_TO_RENDER, evidence={}, figures={}, cache_dir=tmp_path)

    assert render_memo(tmp_path) not in older


BROKEN = """
    deck: Broken
    notes:
      - id: no-back
        front: A question without an answer
"""


def test_notes_from_the_load_cache_are_what_reading_the_files_gives(project: Path) -> None:
    (project / "source" / "broken.yaml").write_text(BROKEN.replace("\n    ", "\n").strip())
    fresh = load(project)

    first = load(project, cache_dir=project / ".cache")
    second = load(project, cache_dir=project / ".cache")

    assert fresh.problems  # the broken file's problems are remembered too
    assert first == fresh
    assert second == fresh


def test_a_file_read_before_comes_from_the_load_cache(project: Path) -> None:
    cache = project / ".cache"
    load(project, cache_dir=cache)
    (entry,) = (cache / "load").glob("*.pickle")
    notes, problems = pickle.loads(entry.read_bytes())
    # Plant a marker in the remembered notes: a file that is not parsed again shows it.
    entry.write_bytes(pickle.dumps(([replace(n, front="kept") for n in notes], problems)))

    again = load(project, cache_dir=cache)

    assert {note.front for note in again.notes} == {"kept"}


def test_an_edited_file_is_read_again(project: Path) -> None:
    cache = project / ".cache"
    load(project, cache_dir=cache)

    edit(project, "Zero: the intersection", "Zero, since the intersection")
    again = load(project, cache_dir=cache)

    assert again == load(project)
    assert any(n.back.startswith("Zero, since") for n in again.notes)


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps("a string")])
def test_a_damaged_load_cache_entry_is_ignored_and_replaced(project: Path, damage: bytes) -> None:
    cache = project / ".cache"
    load(project, cache_dir=cache)
    (entry,) = (cache / "load").glob("*.pickle")
    entry.write_bytes(damage)

    assert load(project, cache_dir=cache) == load(project)
    assert pickle.loads(entry.read_bytes())[0]  # written again, whole
