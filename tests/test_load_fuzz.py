"""Fuzzing the input: whatever is in a source file, recipe or lock file, `deckbuild` answers
with exit status 2 and `file:line` messages (or accepts it), never a traceback, hang or crash.

Each example is a tiny project run through the real command line in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder.cli import main
from builder.load import CASE_KEYS, FILE_KEYS, NOTE_KEYS, PROPERTY_KEYS, TESTS_KEYS
from builder.recipes import RECIPE_KEYS
from tests.conftest import Run, write_project

# A valid file that exercises every part of the loader: mutations of it reach deep.
VALID = """\
deck: Detection
tags: [topic::detection]
notes:
  - id: iou-touching
    front: What is the IoU of two boxes that only touch?
    back: Zero, the intersection has no area.
    refs: [cvmid-q04]
    level: easy
    tags: [kind::concept]
  - id: nms-cloze
    cloze: NMS drops boxes whose {{c1::IoU}} with a kept box exceeds a {{c2::threshold}}.
  - id: code-double
    front: Write `double(x)`.
    long: code
    code: |
      def double(x):
          return 2 * x
    tests:
      call: double
      rtol: 1.0e-6
      timeout: 5
      cases:
        - name: doubles
          args: [[1, 2], {array: [3], dtype: uint8}]
          kwargs: {}
          expect: [2, 4]
        - name: raises
          expr: double(None)
          raises: TypeError
      properties:
        - name: agrees
          trials: 3
          inputs: |
            def inputs(rng):
                return rng.random(3)
          reference: |
            def reference(x):
                return x + x
  - id: old-note
    front: Gone.
    retired: merged into iou-touching
"""
RECIPE = "name: Test Deck\ninclude: topic::detection and not level::hard\n"
# Characters that mean something to YAML, and some that its reader rejects.
YAML_ALPHABET = [*"ab:-_ \n\t[]{}&*!|>'\"#%@`,?.01\\~", "\x00", "\x85", "\u2028", "\ufeff"]
KEYS = (*FILE_KEYS, *NOTE_KEYS, *TESTS_KEYS, *CASE_KEYS, *PROPERTY_KEYS, *RECIPE_KEYS)
LOCATED = re.compile(r"^(source/a\.yaml|decks/all\.yaml|notes\.lock):(\d+): ")

FUZZ = settings(
    max_examples=60,
    # Generous: an example takes milliseconds, and a slow machine must not fail the test; a
    # real hang still ends in a deadline error.
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def deckbuild(files: dict[str, str], *args: str) -> Run:
    """Runs `deckbuild ARGS` in-process on a fresh project made of `files`."""
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder), {"decks/all.yaml": RECIPE, **files})
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([*args, "--project", str(root), "--jobs", "1"])
        return Run(status, out.getvalue(), err.getvalue())


def assert_reported(run: Run, files: dict[str, str]) -> None:
    """Accepted, or refused with exit status 2 and only `file:line` problems and a summary."""
    assert "Traceback" not in run.err
    if run.status == 0:
        return
    assert run.status == 2, run.err
    *problems, summary = run.err.splitlines()
    assert summary.startswith("deckbuild: "), run.err
    located = [LOCATED.match(line) for line in problems]
    assert located and located[0], run.err  # at least one problem, and it names file:line
    for match in filter(None, located):
        path, line = match.groups()
        text = {"decks/all.yaml": RECIPE, **files}.get(path, "")
        # YAML also breaks lines at NEL and U+2028, as str.splitlines does.
        assert 1 <= int(line) <= len(text.splitlines()) + 1, (line, run.err)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    """The valid file with a few lines deleted, repeated, re-indented or scribbled on."""
    lines = VALID.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "repeat", "indent", "scribble"]))
        if action == "delete" and len(lines) > 1:
            del lines[at]
        elif action == "repeat":
            lines.insert(at, lines[at])
        elif action == "indent":
            lines[at] = " " * draw(st.integers(0, 8)) + lines[at].lstrip()
        else:
            column = draw(st.integers(0, len(lines[at])))
            junk = draw(st.text(YAML_ALPHABET, max_size=6))
            lines[at] = lines[at][:column] + junk + lines[at][column + 1 :]
    return "\n".join(lines) + "\n"


def values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=12,
    )


def notes() -> st.SearchStrategy[Any]:
    """Documents shaped like source files whose keys are right and values anything."""
    note = st.dictionaries(st.sampled_from(NOTE_KEYS), values(), max_size=6)
    return st.fixed_dictionaries(
        {"deck": values(), "notes": st.lists(note, max_size=3)},
        optional={"tags": values()},
    )


@FUZZ
@given(text=st.text(YAML_ALPHABET, max_size=120))
def test_random_text_in_a_source_file(text: str) -> None:
    files = {"source/a.yaml": text}
    assert_reported(deckbuild(files, "list"), files)


@FUZZ
@given(text=mutations())
def test_a_mutated_source_file(text: str) -> None:
    files = {"source/a.yaml": text}
    assert_reported(deckbuild(files, "list"), files)


@FUZZ
@given(document=notes())
def test_schema_violations_in_a_source_file(document: Any) -> None:
    files = {"source/a.yaml": yaml.safe_dump(document)}
    assert_reported(deckbuild(files, "list"), files)


@FUZZ
@given(text=st.text(YAML_ALPHABET, max_size=80) | values().map(yaml.safe_dump))
def test_anything_in_a_recipe(text: str) -> None:
    files = {"source/a.yaml": VALID, "decks/all.yaml": text}
    assert_reported(deckbuild(files, "list"), files)


def locks() -> st.SearchStrategy[str]:
    """Lock files with the right sections and anything in their entries."""
    numbers = st.integers() | st.floats() | st.text(max_size=3)
    entry = st.fixed_dictionaries(
        {"fingerprint": st.text(max_size=4) | numbers, "mod": numbers},
        optional={"kind": values(), "schema": values()},
    )
    lock = st.fixed_dictionaries(
        {
            "version": st.sampled_from([1, 2, 3, "2", None]),
            "notes": st.dictionaries(st.text(max_size=4), entry | values(), max_size=3),
            "note_types": st.dictionaries(st.sampled_from(["basic", "cloze"]), entry, max_size=2),
        }
    )
    return lock.map(json.dumps)


@settings(FUZZ, max_examples=40)
@given(text=st.text(list('{}[]":,0123456789vnotesfingrpmdk \n'), max_size=80) | locks())
@example(text='{"version": 2, "note_types": {}, "notes": {"a": {"fingerprint": "", "mod": 1e400}}}')
@example(text='{"version": 2, "note_types": {}, "notes": {"a": {"fingerprint": "", "mod": 1e30}}}')
@example(
    text='{"version": 2, "note_types": {}, "notes": {"a": {"fingerprint": "", "mod": 1'
    + "0" * 30
    + "}}}"
)
def test_anything_in_the_lock_file(text: str) -> None:
    files = {"source/a.yaml": VALID.split("  - id: code-double")[0], "notes.lock": text}
    assert_reported(deckbuild(files, "build"), files)


@pytest.mark.parametrize(
    "text",
    [
        # libyaml's composer recurses per level: this deep, it crashed the interpreter.
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep nesting"),
        pytest.param(
            "deck: D\nnotes:\n  - id: x\n    front: Q\n    code: c\n    tests:\n      call: f\n"
            "      cases:\n        - name: n\n          expect: &a [*a]\n",
            id="a value that contains itself",
        ),
        pytest.param(
            "deck: D\nnotes:\n  - id: x\n    front: Q\n    code: c\n    tests:\n      call: f\n"
            "      cases:\n        - name: n\n          args: [&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"
            + "".join(f", &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10))
            + "]\n          expect: 0\n",
            id="a billion laughs",
        ),
    ],
)
def test_malicious_yaml_is_refused_without_a_crash(text: str) -> None:
    files = {"source/a.yaml": text}
    run = deckbuild(files, "list")
    assert run.status == 2
    assert_reported(run, files)
