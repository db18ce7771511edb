"""The cache: one store of JSON entries and content-named blobs, written atomically, never
trusted beyond being JSON, and bounded to what the last runs used."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.cache import KEEP_RUNS, Store, from_json, to_json
from builder.pipeline import Request, run
from tests.conftest import REPO, MakeProject


@dataclass(frozen=True)
class Point:
    x: float
    label: str | None = None


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_a_value_comes_back_as_it_was_stored(tmp_path: Path) -> None:
    value = {"points": (Point(1.5, "a"), Point(float("inf"))), "where": Path("source/a.yaml")}
    store = Store(tmp_path)
    store.put("stage", "key", to_json(value))

    assert from_json(Store(tmp_path).get("stage", "key"), [Point]) == value
    assert files(tmp_path) == {"stage/key.json"}  # no temporary file left behind


def test_what_json_cannot_hold_is_refused_not_stored(tmp_path: Path) -> None:
    import datetime

    with pytest.raises(TypeError):
        to_json({"when": datetime.date(2024, 1, 1)})
    with pytest.raises(TypeError):
        to_json({1: "a key that is not text"})


@pytest.mark.parametrize(
    "damage",
    [b"", b"{cut sho", b'{"@": "os.system", "v": ["touch /tmp/owned"]}', b'{"@": "Point"}'],
)
def test_a_damaged_or_foreign_entry_is_absent(tmp_path: Path, damage: bytes) -> None:
    store = Store(tmp_path)
    store.put("stage", "key", to_json(Point(1.0)))
    (tmp_path / "stage" / "key.json").write_bytes(damage)

    found = Store(tmp_path).get("stage", "key")
    with pytest.raises(ValueError):
        if found is None:
            raise ValueError("absent")
        from_json(found, [Point])


def test_a_blob_is_named_by_its_content(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.put_blob(b"png bytes")

    path = store.blob(digest)

    assert path is not None and path.read_bytes() == b"png bytes"
    assert store.blob("0" * 64) is None


def test_entries_the_last_runs_did_not_use_are_evicted(tmp_path: Path) -> None:
    first = Store(tmp_path)
    first.put("stage", "old", 1)
    first.put("stage", "kept", 2)
    blob = first.put_blob(b"old figure")
    first.close()
    for _ in range(KEEP_RUNS - 1):
        later = Store(tmp_path)
        assert later.get("stage", "kept") == 2
        later.close()
        assert "stage/old.json" in files(tmp_path)  # not yet: used within the last runs

    last = Store(tmp_path)
    last.get("stage", "kept")
    last.close()

    assert files(tmp_path) == {"stage/kept.json", "uses.json"}
    assert last.blob(blob) is None


def test_files_of_an_older_cache_layout_are_removed(tmp_path: Path) -> None:
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "0123.pickle").write_bytes(b"an old pickle")
    (tmp_path / "figure-scripts.json").write_text("{}")

    Store(tmp_path).close()

    assert files(tmp_path) == {"uses.json"}


NOTES = """
    deck: Coding
    notes:
      - id: code-scale
        front: Write `scale(x)`.
        sources: [Fixture 2026]
        code: |
          def scale(x):
              return x * 1
        tests:
          call: scale
          cases:
            - name: scales
              args: [2]
              expect: 2
      - id: plain
        front: What changes?
        sources: [Fixture 2026]
        back: Edit 0.
"""


def test_the_cache_stays_within_its_bound_over_50_builds_of_a_changing_deck(
    make_project: MakeProject,
) -> None:
    root = make_project({"source/coding.yaml": NOTES})
    source = root / "source" / "coding.yaml"
    counts = []
    for build in range(1, 51):
        text = re.sub(r"Edit \d+\.", f"Edit {build}.", source.read_text())
        if build % 10 == 0:  # a new answer now and then: a verdict and its highlighted code
            text = re.sub(r"return x \* \d+", f"return x * {build // 10}", text)
            text = re.sub(r"expect: \d+", f"expect: {2 * (build // 10)}", text)
        source.write_text(text)

        result = run(Request(root, until="build", jobs=1))

        assert result.status == 0, [str(p) for p in result.problems]
        counts.append(len(files(root / ".cache")))
    # Each build uses one parsed file, one verdict and one render entry; what no build of the
    # last KEEP_RUNS used is gone, so the count levels off rather than growing with builds.
    assert max(counts) <= 3 * KEEP_RUNS + 1
    assert max(counts[25:]) <= max(counts[:25])


def test_nothing_in_the_builder_unpickles_or_unmarshals() -> None:
    found = [
        path.name
        for path in (REPO / "builder").glob("*.py")
        if re.search(r"^\s*(import|from)\s+(pickle|marshal|shelve)\b", path.read_text(), re.M)
    ]
    assert found == []
