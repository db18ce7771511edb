"""Problems are values: a place in a file and a message, collected across a whole run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Location:
    """A line in a file; `path` is as the user would type it (relative to the project).

    Line 0 is the whole of `path`, or a place that is no file: `--tags`, the command line."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.as_posix()}:{self.line}" if self.line else self.path.as_posix()


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input, reported as `file:line: note-id: message`."""

    location: Location
    message: str
    note_id: str | None = None

    def __str__(self) -> str:
        who = f" {self.note_id}:" if self.note_id else ""
        return f"{self.location}:{who} {self.message}"
