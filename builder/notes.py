"""The values several stages share: the note (what one entry of `source/*.yaml` says, after
validation, made by `builder.load`), the media files a deck ships, and note type schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from builder import schema
from builder.problems import Location

NoteKind = Literal["basic", "cloze"]


@dataclass(frozen=True)
class Case:
    """One numpy test case of a code note.

    Values (`args`, `kwargs`, `expect`) are kept as written in YAML; the verification stage
    decodes them (lists become numpy arrays; `{array, dtype}` and `{py}` mappings are special).
    Exactly one of `expect` (with `has_expect`) and `raises` is meaningful.
    """

    name: str
    location: Location
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    expr: str | None = None
    expect: Any = None
    has_expect: bool = False
    raises: str | None = None
    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class Property:
    """A check of the answer against a plain reference on seeded random inputs."""

    name: str
    location: Location
    inputs: str
    reference: str
    trials: int = schema.TRIALS
    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class Tests:
    """The numpy test cases that a code note's answer must pass before it ships."""

    location: Location
    call: str | None
    cases: tuple[Case, ...]
    properties: tuple[Property, ...] = ()
    setup: str = ""
    rtol: float = schema.RTOL
    atol: float = schema.ATOL
    timeout: float = schema.TIMEOUT_S


@dataclass(frozen=True)
class Note:
    """One note of the deck. `tags` is complete: file defaults, level and kind included."""

    id: str
    location: Location
    deck: str
    kind: NoteKind
    front: str = ""
    back: str = ""
    cloze: str = ""
    code: str | None = None
    tests: Tests | None = None
    figure: str | None = None
    refs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    long: str | None = None
    position: int = 0


@dataclass(frozen=True)
class Media:
    """A file that ships with the deck: a flat, unique, content-hashed `name` and its `path`."""

    name: str
    path: Path


@dataclass(frozen=True)
class Schema:
    """What Anki matches a note type on: change any of it and users' notes stop updating."""

    id: int
    kind: str  # "basic" (a standard note type) or "cloze"
    fields: tuple[str, ...]
    templates: tuple[str, ...]
    sort_field: int
