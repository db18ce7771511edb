"""Drawing: the diagrams that notes name, drawn by `figures/<name>.py` into PNG media.

A figure script is one short module:

    '''Intersection over union of two boxes.'''
    from _style import theme

    HEIGHT = 2.4                # inches, optional; every figure is WIDTH_IN wide
    USES = ("code-iou",)        # optional: code notes whose answer the figure draws with

    def draw(fig, variant, code):
        t = theme(fig, variant)             # variant is "light" or "dark"
        iou = code["code-iou"].iou          # the note's `code`, run as a module
        ...

Each script runs in the sandbox (`builder.sandbox`, the same walls and limits as a code answer:
no network, no files outside its own folder, a scrubbed environment), once per variant, on a
fresh `matplotlib.figure.Figure` (Agg backend); it gets the sources of the project modules it
imports, since it cannot read the figures folder, and sends back its PNGs. The PNGs are
palette-quantized and carry no metadata, so equal inputs give equal bytes; they are cached under
a hash of everything that can change them and named by a hash of their content, so a changed
figure reaches users as a new file.
"""

from __future__ import annotations

import ast
import base64
import binascii
import difflib
import functools
import hashlib
import sys
import threading
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder import sandbox
from builder.cache import Store, digest
from builder.notes import Media, Note
from builder.problems import Location, Problem
from builder.versions import installed_version

WIDTH_IN = 3.6
DPI = 200  # 720 px wide: a 360 px phone screen at 2x
DEFAULT_HEIGHT_IN = 2.7
VARIANTS = ("light", "dark")
PALETTE_COLORS = 256
MAX_PNG_BYTES = 150_000
TIMEOUT_S = 120.0
MEMORY_MIB = 1024  # on top of the warm worker's: matplotlib at 720 px needs little
# What turns a script into bytes, as distribution and module: a new version may draw different
# pixels.
_RENDERERS = (("matplotlib", "matplotlib"), ("numpy", "numpy"), ("pillow", "PIL"))


@dataclass(frozen=True)
class Figure:
    """One drawn diagram: a variant for Anki's day mode and one for night mode."""

    name: str
    light: Media
    dark: Media


@dataclass(frozen=True)
class Drawing:
    """The figures that notes name (by figure name), and what kept the others from drawing."""

    figures: Mapping[str, Figure]
    problems: tuple[Problem, ...]
    drawn: int
    # Those of `problems` that are scripts which ran and failed or were stopped: failed jobs,
    # as a failing code answer is, rather than bad input.
    failed: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class _Job:
    """A figure to draw: its script, the answer code it uses, and its cache key."""

    name: str
    script: Path
    modules: tuple[Path, ...]  # the project modules it imports, directly or not
    code: Mapping[str, str]
    key: str
    named_by: Note


def draw(
    notes: Sequence[Note],
    *,
    figures_dir: Path,
    cache: Store,
    jobs: int = 2,
    weaker_sandbox: bool = False,
    unverified: Callable[[Collection[str]], Collection[str]] = lambda uses: (),
    stop: threading.Event | None = None,
    slots: threading.Semaphore | None = None,
) -> Drawing:
    """Draws every figure that `notes` name, from `figures_dir/<name>.py`, into `cache`.

    Scripts whose inputs (the script, the project modules it imports, the code of the notes in
    its `USES`) are unchanged since a previous run are not run again. An unknown figure name, a
    script that fails or a PNG over MAX_PNG_BYTES is a Problem at the note that names the figure;
    `notes` must include the code notes that figures use. `unverified(uses)` is asked, before a
    figure that draws with code notes is drawn, which of them have answers that failed their
    tests (it may wait until they are verified, so that drawing can run while answers are):
    such a figure is left out, without a problem of its own. Figures that use no code are
    drawn first. At most `jobs` scripts run at once (fewer while they wait for `slots`, shared
    with verification); setting `stop` kills them (it is set when this call is interrupted).
    With `weaker_sandbox`, scripts run even where the sandbox cannot raise every wall.
    """
    naming: dict[str, list[Note]] = {}
    for note in sorted(notes, key=lambda n: n.location):
        if note.figure:
            naming.setdefault(note.figure, []).append(note)
    known = _known_figures(figures_dir)
    code = {note.id: note.code for note in notes if note.code is not None}
    remembered = _recall_scans(cache)
    scanned: dict[str, _Scan] = {}

    def scan(path: Path) -> _Scan:
        source = path.read_bytes()
        key = hashlib.sha256(source).hexdigest()
        found = scanned.get(key) or remembered.get(key) or _scan(source, str(path))
        scanned[key] = found
        return found

    problems: list[Problem] = []
    planned: list[_Job] = []
    for name, named_by in sorted(naming.items()):
        if name not in known:
            problems += [_unknown(name, note, known, figures_dir) for note in named_by]
            continue
        job = _plan(name, figures_dir, code, named_by[0], scan)
        if isinstance(job, Problem):
            problems.append(job)
        else:
            planned.append(job)

    # Only the scripts this call read are kept; unchanged, the memo is not rewritten.
    if scanned.keys() != remembered.keys():
        _remember_scans(cache, scanned)
    stop = stop or threading.Event()
    ran: list[str] = []

    def drawn(job: _Job) -> Figure | Problem | None:
        # Waits, if need be, until the answers the figure draws with have their verdicts.
        if job.code and unverified(tuple(job.code)):
            return None
        cached = _cached(job, cache)
        if cached is not None:
            return cached
        ran.append(job.name)
        return _run(job, cache, stop, weaker_sandbox, slots)

    # The figures that wait for no verdict first, so that they draw while answers run.
    planned.sort(key=lambda job: bool(job.code))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        results = list(pool.map(drawn, planned))
    except BaseException:
        # After Ctrl-C or SIGTERM (a KeyboardInterrupt here) no queued figure starts and the
        # ones drawing are killed, so that the build stops at once.
        stop.set()
        raise
    finally:
        pool.shutdown(cancel_futures=True)
    failed = [result for result in results if isinstance(result, Problem)]
    problems += failed
    figures = {
        job.name: result
        for job, result in zip(planned, results, strict=True)
        if isinstance(result, Figure)
    }

    for job in planned:
        if job.name in figures:
            oversized = _oversized(figures[job.name], job.named_by)
            if oversized:
                problems.append(oversized)
                del figures[job.name]
    ordered = {name: figures[name] for name in sorted(figures)}
    return Drawing(
        types.MappingProxyType(ordered),
        tuple(sorted(problems, key=_by_place)),
        len(ran),
        tuple(sorted(failed, key=_by_place)),
    )


def _by_place(problem: Problem) -> tuple[Location, str]:
    return problem.location, problem.message


def _known_figures(figures_dir: Path) -> list[str]:
    if not figures_dir.is_dir():
        return []
    return sorted(p.stem for p in figures_dir.glob("*.py") if not p.stem.startswith("_"))


def _unknown(name: str, note: Note, known: list[str], figures_dir: Path) -> Problem:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "add the script or fix the name"
    where = f"{figures_dir.name}/{name}.py"
    return Problem(note.location, f"unknown figure '{name}': there is no {where}; {hint}", note.id)


def _plan(
    name: str,
    figures_dir: Path,
    code: Mapping[str, str | None],
    note: Note,
    scan: Callable[[Path], _Scan],
) -> _Job | Problem:
    """The job for one figure, or the Problem that its script's declarations have."""
    script = figures_dir / f"{name}.py"
    failed = f"figure '{name}' cannot be drawn: {_shown(script)}"
    try:
        uses = scan(script).uses
        imports = _project_imports(script, figures_dir, scan)
    except SyntaxError as error:
        where = _shown(Path(error.filename)) if error.filename else _shown(script)
        detail = f"{where}:{error.lineno}: {error.msg}"
        return Problem(note.location, f"figure '{name}' has a syntax error: {detail}", note.id)
    if uses is None:
        message = f"{failed} must declare USES as a literal tuple of note ids"
        return Problem(note.location, message, note.id)
    missing = [note_id for note_id in uses if code.get(note_id) is None]
    if missing:
        listed = ", ".join(f"'{note_id}'" for note_id in missing)
        message = f"{failed} draws with the code of {listed}, but there is no such code note"
        return Problem(note.location, message, note.id)
    used = {note_id: str(code[note_id]) for note_id in uses}
    return _Job(name, script, tuple(imports), used, _cache_key(script, imports, used), note)


def _declared_uses(tree: ast.Module) -> tuple[str, ...] | None:
    """The note ids in the script's `USES = (...)`; () without one, None if it is not literal."""
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "USES" for target in statement.targets
        ):
            try:
                value = ast.literal_eval(statement.value)
            except ValueError:
                return None
            if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            return None
    return ()


def _project_imports(script: Path, figures_dir: Path, scan: Callable[[Path], _Scan]) -> list[Path]:
    """The modules of `figures_dir` that `script` imports, directly or through each other."""
    found: set[Path] = set()
    pending = [script]
    while pending:
        module = pending.pop()
        for name in scan(module).imports:
            imported = figures_dir / f"{name}.py"
            if imported.is_file() and imported not in found and imported != script:
                found.add(imported)
                pending.append(imported)
    return sorted(found)


@dataclass(frozen=True)
class _Scan:
    """What the drawer reads off a script's source without running it."""

    imports: tuple[str, ...]  # the top-level names of its absolute imports
    uses: tuple[str, ...] | None  # the note ids in its USES; None if that is not literal


def _scan(source: bytes, filename: str) -> _Scan:
    """The scan of one script or module; SyntaxError if it does not parse."""
    tree = ast.parse(source, filename=filename)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return _Scan(tuple(names), _declared_uses(tree))


# Every build reads every figure script to find its cache key, and parsing and walking them
# all took a cached draw 20 ms: most of it, and 8% of a rebuild with nothing changed. So
# each source's scan is remembered under a hash of its bytes, in one entry, for as long as this
# module and Python stay the same.
SCANS = "figure-scans"
STAGE = "figures"


@functools.cache
def _scanner_identity() -> str:
    return digest(Path(__file__).read_bytes(), sys.version)


def _recall_scans(cache: Store) -> dict[str, _Scan]:
    def names(value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TypeError(f"expected a list of names, not {value!r}")
        return tuple(value)

    try:
        return {
            str(key): _Scan(names(imports), None if uses is None else names(uses))
            for key, (imports, uses) in cache.get(SCANS, _scanner_identity()).items()
        }
    # Absent or damaged means: scan the scripts again.
    except (ValueError, TypeError, AttributeError):
        return {}


def _remember_scans(cache: Store, scans: Mapping[str, _Scan]) -> None:
    data = {key: [scan.imports, scan.uses] for key, scan in sorted(scans.items())}
    cache.put(SCANS, _scanner_identity(), data)


def _cache_key(script: Path, imports: Sequence[Path], code: Mapping[str, str]) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("drawer", Path(__file__).read_bytes() + sandbox.HARNESS.read_bytes())
    add("python", sys.version.encode())
    for package, version in _renderer_versions():
        add(package, version.encode())
    add("script", script.read_bytes())
    for module in imports:
        add(f"module {module.name}", module.read_bytes())
    for note_id, source in sorted(code.items()):
        add(f"code {note_id}", source.encode())
    return digest.hexdigest()


def _renderer_versions() -> tuple[tuple[str, str], ...]:
    return tuple((name, installed_version(name, module)) for name, module in _RENDERERS)


def _cached(job: _Job, cache: Store) -> Figure | None:
    """The figure as drawn before from the same inputs, if its entry and files are whole."""
    entry = cache.get(STAGE, job.key[:40])
    try:
        variants = [entry[variant] for variant in VARIANTS]
        paths = [cache.blob(str(blob)) for _, blob in variants]
        light, dark = (
            Media(str(name), path)
            for (name, _), path in zip(variants, paths, strict=True)
            if path is not None
        )
    except (TypeError, KeyError, ValueError):
        return None  # absent or damaged: draw it
    return Figure(job.name, light, dark)


def _run(
    job: _Job,
    cache: Store,
    stop: threading.Event,
    weaker: bool,
    slots: threading.Semaphore | None,
) -> Figure | Problem:
    """Draws one script in the sandbox; its PNGs go into the cache only when both drew."""
    request = {
        "role": "figure",
        "name": job.name,
        "script": {"name": _shown(job.script), "source": job.script.read_text(encoding="utf-8")},
        "modules": {
            module.stem: {"name": _shown(module), "source": module.read_text(encoding="utf-8")}
            for module in job.modules
        },
        "code": dict(job.code),
        "width_in": WIDTH_IN,
        "height_in": DEFAULT_HEIGHT_IN,
        "dpi": DPI,
        "variants": list(VARIANTS),
        "colors": PALETTE_COLORS,
    }
    limits = sandbox.Limits(timeout=TIMEOUT_S, memory_mib=MEMORY_MIB)
    outcome = sandbox.run(request, limits, stop=stop, weaker=weaker, slots=slots)
    note = job.named_by
    if outcome.stopped is not None:
        output = "".join(f"\n    {line}" for line in outcome.output.splitlines()[:10])
        stopped = f"figure '{job.name}' ({_shown(job.script)}) {outcome.stopped}{output}"
        return Problem(note.location, stopped, note.id)
    pngs = _pngs(outcome)
    if isinstance(pngs, str):
        failed = f"figure '{job.name}' failed: {_shown(job.script)}"
        return Problem(note.location, f"{failed}{pngs}", note.id)
    entry = {}
    for variant in VARIANTS:
        data = pngs[variant]
        name = f"fig-{job.name}-{variant}-{hashlib.sha256(data).hexdigest()[:10]}.png"
        entry[variant] = [name, cache.put_blob(data)]
    cache.put(STAGE, job.key[:40], entry)
    drawn = _cached(job, cache)
    if drawn is None:
        return Problem(note.location, f"figure '{job.name}': its PNGs could not be stored", note.id)
    return drawn


def _pngs(outcome: sandbox.Outcome) -> dict[str, bytes] | str:
    """The two PNGs a finished script drew, or what went wrong, to follow the headline."""
    for message in outcome.messages:
        end = message.get("end")
        if isinstance(end, dict) and end.get("step") == "figure":
            result: Any = end.get("result")
            try:
                if "error" in result:
                    error = result["error"]
                    broke = [f"stopped: {error['broke']}"] if error.get("broke") else []
                    return "".join(f"\n{line}" for line in [*broke, str(error["text"] or "")])
                drawn = result["value"]
                return {
                    variant: base64.b64decode(drawn[variant], validate=True) for variant in VARIANTS
                }
            except (TypeError, KeyError, ValueError, binascii.Error):
                break
    return ": its run sent a malformed report"


def _oversized(figure: Figure, note: Note) -> Problem | None:
    for variant, media in zip(VARIANTS, (figure.light, figure.dark), strict=True):
        size = media.path.stat().st_size
        if size > MAX_PNG_BYTES:
            message = (
                f"figure '{figure.name}' ({variant}) is {size / 1000:.0f} KB, over the "
                f"{MAX_PNG_BYTES / 1000:.0f} KB a figure may take: simplify the drawing"
            )
            return Problem(note.location, message, note.id)
    return None


def _shown(path: Path) -> str:
    """`path` as the user would type it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
