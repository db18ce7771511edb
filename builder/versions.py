"""The versions of installed packages, for the cache keys of what they compute (verdicts, PNGs).

Every build needs them, a rebuild that runs nothing included. `importlib.metadata` gives them,
but importing it (it parses metadata as e-mail messages) costs a rebuild 15 ms, 4 % of it; the
folder a wheel installs its metadata in names the version too, and is found without importing
the package (#19).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


@functools.cache
def installed_version(distribution: str, module: str) -> str:
    """The version of `distribution` (a name as on PyPI), which provides `module`, as
    `importlib.metadata.version(distribution)` says; without importing `module`."""
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.origin is not None:
        # A wheel installs package/ and <name>-<version>.dist-info/ side by side, the name
        # normalized to lower case and underscores (the wheel format's specification).
        prefix = distribution.lower().replace("-", "_").replace(".", "_") + "-"
        suffix = ".dist-info"
        folder = Path(spec.origin).parent  # of a module; of a package, its __init__.py's
        if spec.submodule_search_locations is not None:
            folder = folder.parent
        found = [
            entry.name[len(prefix) : -len(suffix)]
            for entry in folder.iterdir()
            if entry.name.lower().startswith(prefix) and entry.name.endswith(suffix)
        ]
        if len(found) == 1:
            return found[0]
    # An editable install, an egg, several versions' folders: the general (slower) lookup.
    from importlib import metadata

    return metadata.version(distribution)
