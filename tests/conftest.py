"""Shared fixtures: tiny projects built in code, the real deck built once, and the command line
run in-process."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from builder.cli import main
from builder.notes import Media, Note
from builder.package import package
from builder.problems import Location
from builder.render import RenderedNote
from builder.sandbox import HARNESS

REPO = Path(__file__).resolve().parent.parent

# The property tests draw the same examples on every run, so that CI passes or fails on the code
# alone and a failure is reproduced by running again. HYPOTHESIS_PROFILE=explore draws new ones,
# to search for bugs on purpose.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

MakeProject = Callable[..., Path]


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


def write_project(root: Path, files: Mapping[str, str]) -> Path:
    """Writes `files` (relative path -> text, dedented) under `root`; returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """`make_project(files={...})` builds a project; a recipe taking every note is added."""

    def make(files: Mapping[str, str], *, recipe: bool = True) -> Path:
        defaults = {"decks/all.yaml": "name: Test Deck\n"} if recipe else {}
        return write_project(tmp_path / "project", {**defaults, **files})

    return make


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this repository's deck project, shared (with its caches) by the whole run."""
    root = tmp_path_factory.mktemp("repo")
    for folder in ("source", "figures", "decks"):
        shutil.copytree(REPO / folder, root / folder)
    if (REPO / "notes.lock").exists():
        shutil.copy(REPO / "notes.lock", root / "notes.lock")
    return root


@pytest.fixture(scope="session")
def built_repo(repo_copy: Path) -> Path:
    """The copy of this repository's deck project, built once for every test that reads it."""
    assert main(["build", "--project", str(repo_copy)]) == 0
    return repo_copy


@pytest.fixture
def deckbuild(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Runs `deckbuild ARGS --project ROOT` in-process and captures what it printed."""

    def run(root: Path, *args: str) -> Run:
        status = main([*args, "--project", str(root), "--jobs", "2"])
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def rendered_note(note_id: str, back: str = "A.", media: tuple[Media, ...] = ()) -> RenderedNote:
    """A plain rendered basic note, for tests of the stages after rendering."""
    return RenderedNote(
        id=note_id,
        deck="Detection",
        kind="basic",
        position=0,
        front="Q?",
        back=back,
        code="",
        figure="",
        verified="",
        sources="",
        tags=("topic::detection",),
        media=media,
    )


def package_notes(folder: Path, name: str, notes: list[RenderedNote]) -> Path:
    """Writes `notes` as the deck file `folder/name`, with fixed stamps; returns its path."""
    output = folder / name
    package(
        "Deck",
        notes,
        note_mods={n.id: 1_700_000_000 for n in notes},
        note_type_mods={"basic": 1_690_000_000},
        output=output,
    )
    return output


def edit(file: Path, old: str, new: str) -> None:
    """Replaces `old`, which must be in `file`, with `new`."""
    text = file.read_text(encoding="utf-8")
    assert old in text, old
    file.write_text(text.replace(old, new), encoding="utf-8")


def outputs(root: Path) -> dict[str, bytes]:
    """What a build of `root` wrote: its lock file and every deck, by name."""
    files = [root / "notes.lock", *sorted((root / "dist").iterdir())]
    return {path.name: path.read_bytes() for path in files}


def note(note_id: str = "n", **fields: object) -> Note:
    """A basic note as the loader makes it, for tests of the stages after loading."""
    defaults: dict[str, object] = {
        "location": Location(Path("source/a.yaml"), 3),
        "deck": "A",
        "kind": "basic",
        "front": "Q?",
        "back": "A.",
    }
    return Note(id=note_id, **{**defaults, **fields})  # type: ignore[arg-type]


def processes() -> Iterator[tuple[int, str, int, int]]:
    """Every process there is now: its pid, state, parent's pid and process group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            state, parent, group = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # ended meanwhile
        yield int(stat.parent.name), state, int(parent), int(group)


def harness_processes() -> dict[int, int]:
    """This checkout's sandbox processes alive now (workers and their jobs): each one's pid,
    with its parent's pid."""
    found = {}
    for pid, _, parent, _ in processes():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if str(HARNESS).encode() in command:
            found[pid] = parent
    return found
