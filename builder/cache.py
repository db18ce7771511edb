"""The cache: one store for what every stage remembers between builds.

An entry is a JSON document under its stage and a digest of everything that can change it
(`<stage>/<digest>.json`); a file a stage makes (a drawn figure) is a blob named by the
SHA-256 of its bytes (`blobs/<sha256>`). Nothing in the store is executed or unpickled: a
damaged or foreign entry fails to decode and counts as absent, and the stage that asked makes
it again, as it would have without a cache. Every write goes to a temporary file first and is
renamed into place, so a build that is interrupted, or runs beside another, never leaves a
torn entry.

The store stays bounded: each run records which entries it used (`uses.json`), and entries and
blobs that none of the last KEEP_RUNS runs used are deleted when a run ends.

Stages never see where the store lives: they get a `Store` (or None) and ask it for values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

KEEP_RUNS = 5
USES = "uses.json"
BLOBS = "blobs"


class Store:
    """The cache of one project. `close()` ends a run: it records uses and evicts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def get(self, stage: str, key: str) -> Any:
        """The value stored under `stage` and `key`; None if absent or damaged."""
        name = f"{stage}/{key}.json"
        try:
            value = json.loads((self.folder / name).read_bytes())
        except (OSError, ValueError):
            return None
        self.used.add(name)
        return value

    def put(self, stage: str, key: str, value: Any) -> None:
        """Stores a JSON value (TypeError, storing nothing, if it is not one)."""
        name = f"{stage}/{key}.json"
        data = json.dumps(value, separators=(",", ":"), allow_nan=True).encode()
        self.used.add(name)
        self._write(name, data)

    def put_blob(self, data: bytes) -> str:
        """Stores a file's bytes; returns their digest, the blob's name."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.blob(digest):
            self._write(f"{BLOBS}/{digest}", data)
        self.used.add(f"{BLOBS}/{digest}")
        return digest

    def blob(self, digest: str) -> Path | None:
        """The path of a stored blob, if it is there."""
        path = self.folder / BLOBS / digest
        if not path.is_file():
            return None
        self.used.add(f"{BLOBS}/{digest}")
        return path

    def close(self) -> None:
        """Records what this run used; deletes what none of the last KEEP_RUNS runs used."""
        # The cache only saves time: if it cannot be tidied, the next run tries again.
        with contextlib.suppress(OSError):
            self._tidy()

    def _tidy(self) -> None:
        if not self.folder.is_dir():
            return
        try:
            uses = json.loads((self.folder / USES).read_bytes())
            run, last = int(uses["run"]) + 1, dict(uses["last"])
        except (OSError, ValueError, KeyError, TypeError):
            run, last = 1, {}
        last.update(dict.fromkeys(self.used, run))
        present = {
            path.relative_to(self.folder).as_posix()
            for path in [*self.folder.glob("*"), *self.folder.glob("*/*")]
            if path.is_file() and not path.name.startswith(".") and path.name != USES
        }
        for name in present:
            if not isinstance(last.get(name), int) or last[name] <= run - KEEP_RUNS:
                (self.folder / name).unlink(missing_ok=True)
                last.pop(name, None)
        for folder in self.folder.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # left empty by eviction, or by an older cache layout
        kept = {name: at for name, at in last.items() if name in present}
        data = json.dumps({"run": run, "last": dict(sorted(kept.items()))}, indent=0).encode()
        self._write(USES, data)

    def _write(self, name: str, data: bytes) -> None:
        # The cache only saves time: if it cannot be written, the stage works it out again.
        path = self.folder / name
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def digest(*parts: str | bytes) -> str:
    """A key for the store: the SHA-256 of `parts`, each one delimited."""
    hashed = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hashed.update(f"{len(data)}:".encode())
        hashed.update(data)
    return hashed.hexdigest()[:40]


# --- values as JSON ---------------------------------------------------------------------------
# Frozen dataclasses (of the kinds a stage names), tuples, paths and mappings, tagged so that
# they come back as they went in; anything else (a date in a test value) is a TypeError, and is
# then simply not cached.


def to_json(value: Any) -> Any:
    """`value` as plain JSON data; TypeError if it holds something that cannot come back."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, tuple):
        return {"@": "tuple", "v": [to_json(item) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("a mapping with keys that are not text")
        return {"@": "dict", "v": {key: to_json(item) for key, item in value.items()}}
    if isinstance(value, Path):
        return {"@": "path", "v": value.as_posix()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [to_json(getattr(value, f.name)) for f in dataclasses.fields(value)]
        return {"@": type(value).__name__, "v": fields}
    raise TypeError(f"cannot store a {type(value).__name__}")


def from_json(data: Any, kinds: Iterable[type]) -> Any:
    """What `to_json` made, back; dataclasses only of `kinds`. ValueError if it is damaged."""
    by_name: dict[str, Callable[..., Any]] = {kind.__name__: kind for kind in kinds}
    by_name.update(tuple=tuple, dict=dict, path=Path)
    try:
        return _decode(data, by_name)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"a damaged cache entry: {error}") from error


def _decode(data: Any, kinds: Mapping[str, Callable[..., Any]]) -> Any:
    if isinstance(data, list):
        return [_decode(item, kinds) for item in data]
    if not isinstance(data, dict):
        return data
    kind, value = data["@"], data["v"]
    if kind == "tuple":
        return tuple(_decode(item, kinds) for item in value)
    if kind == "dict":
        return {str(key): _decode(item, kinds) for key, item in value.items()}
    if kind == "path":
        return Path(str(value))
    return kinds[kind](*(_decode(item, kinds) for item in value))
