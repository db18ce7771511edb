"""The pipeline: every stage of a build, run in order up to `check`, `preview` or `build`.

`check` runs everything `build` runs (loading, recipes, verification, drawing, rendering,
stamps and the release guard) and writes no deck and no lock file; `preview` writes the card
pages instead of decks; `build` writes the decks and the lock file. Every stage runs on what
the earlier ones could make, so one run reports the problems of every stage together: a bad
note does not hide a bad recipe, nor a failing answer a figure that cannot be drawn.

The command line turns arguments into a `Request` and a `Result` into text and an exit status;
the tests and the benchmark call `run` in this process.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from builder.cache import Store, session
from builder.load import load
from builder.notes import Note
from builder.problems import Location, Problem
from builder.recipes import (
    Recipe,
    TagExpressionError,
    load_recipes,
    parse_tags,
    select,
    unmatched,
)

if TYPE_CHECKING:
    from builder.package import Packaged
    from builder.preview import Preview
    from builder.render import RenderedNote
    from builder.stamps import Lock, Stamped
    from builder.verify import Failure, Verification

Until = Literal["check", "preview", "build"]

OK, FAILED, INVALID = 0, 1, 2
LOCK_FILE = "notes.lock"
DIST = "dist"
CACHE = ".cache"
PREVIEW = "preview"
COMMAND_LINE = Location(Path("command line"), 0)
VERIFIED = "verify"  # the cache's stage of verdicts (builder.verify.STAGE, not imported early)


def _ignore(*args: object) -> None:
    return None


@dataclass(frozen=True)
class Request:
    """What to run: how far, in which project, for which recipes (or an ad-hoc tag deck)."""

    root: Path
    until: Until = "check"
    recipes: tuple[str, ...] = ()  # recipe names (file stems); () means every recipe
    tags: str | None = None  # an ad-hoc deck of the notes matching this tag expression
    name: str = "CV Interview Prep"  # the ad-hoc deck's name
    output: str = "custom.apkg"  # the ad-hoc deck's file in dist/
    allow_breaking_changes: bool = False
    strict: bool = False  # warnings are errors
    jobs: int = 2
    weaker_sandbox: bool = False  # run code even where a wall of the sandbox cannot be raised
    preview_dir: str = PREVIEW
    # Called as a stage makes progress, with its name, how many are done and of how many.
    on_progress: Callable[[str, int, int], None] = _ignore
    # Called when another build of the project holds dist/ and this one waits for it.
    on_wait: Callable[[], None] = _ignore
    # Called at the points of `builder.publish.publish` (tests of interrupted builds pause).
    checkpoint: Callable[[str], None] = _ignore


@dataclass(frozen=True)
class Result:
    """What a run found and did. `problems` are every error of every stage, the release
    guard's included (unless the request allows breaking changes, when they are `breaking`
    only); `warnings` are soft problems (errors too under `strict`)."""

    request: Request
    notes: tuple[Note, ...] = ()
    recipes: tuple[Recipe, ...] = ()  # the chosen recipes
    selected: Mapping[str, tuple[Note, ...]] = field(default_factory=dict)  # by output file
    rendered: tuple[RenderedNote, ...] = ()
    verification: Verification | None = None
    lock: Lock | None = None  # the lock this build keeps (or would keep)
    problems: tuple[Problem, ...] = ()
    breaking: tuple[Problem, ...] = ()  # what the release guard refuses
    failed_figures: tuple[Problem, ...] = ()  # scripts that ran and failed, as answers fail
    warnings: tuple[Problem, ...] = ()
    written: Mapping[Path, Packaged] = field(default_factory=dict)
    preview: Preview | None = None
    seconds: float = 0.0

    @property
    def failures(self) -> tuple[Failure, ...]:
        return self.verification.failures if self.verification else ()

    @property
    def failed_answers(self) -> int:
        """How many code answers failed (not how many of their cases)."""
        return len({failure.note_id for failure in self.failures})

    @property
    def status(self) -> int:
        """0 all good, 1 a code answer failed verification, 2 invalid input."""
        if self.problems:
            return INVALID
        return FAILED if self.failures or self.failed_figures else OK


def run(request: Request) -> Result:
    """Runs the stages of a build up to `request.until`; writes only if nothing is wrong."""
    started = time.monotonic()
    # Only a run that ended records what it used and evicts what the last runs did not use.
    with session(request.root / CACHE) as cache:
        result = _run(request, cache)
    return replace(result, seconds=time.monotonic() - started)


def _run(request: Request, cache: Store) -> Result:
    root = request.root

    def progress(stage: str) -> Callable[[int, int], None]:
        return lambda done, total: request.on_progress(stage, done, total)

    # Imported before any worker starts: Ctrl-C in the middle of a module's code makes Python
    # end by SIGINT after the CLI's clean exit (130), and tests stop a build once it has workers.
    from builder import sandbox
    from builder.figures import draw
    from builder.render import render
    from builder.verify import verify

    # Nothing verified before (a first build, or a cleared cache): every answer will run and
    # every figure draw, so the workers start now and warm up while the notes load.
    first_build = cache.empty(VERIFIED)
    if first_build:
        sandbox.start_workers()
    loaded = load(root, cache=cache)
    problems = list(loaded.problems)
    notes = loaded.notes
    # Tag patterns are checked against the deck's tags only when every note loaded: a note
    # left out for a problem of its own would make its tags look like typos.
    recipes, recipe_problems = _chosen_recipes(request, notes if not loaded.problems else ())
    problems += recipe_problems
    selected = {recipe.output: select(recipe, notes) for recipe in recipes}
    warnings = loaded.warnings

    # Every note, not only the recipes' ones: a figure may draw with a code note that a recipe
    # leaves out, and that code must be verified too. Both stages cache, so this costs little.
    # Figures draw while answers are verified, the two sharing `jobs` slots, so that neither
    # kind of worker idles while the other has work, and the drawing worker warms up while
    # answers run. A figure that draws with an answer waits for its verdict; one that draws
    # with an answer that failed is not drawn: the failure says why.
    verdicts = _Verdicts({note.id for note in notes if note.tests is not None})
    stop = threading.Event()
    slots = threading.BoundedSemaphore(max(1, request.jobs))
    media_dir = root / "source" / "media"
    with ThreadPoolExecutor(max_workers=2) as background:
        try:
            # Markdown and code need no verdict and no figure. On a first build they render into
            # the cache while answers run and figures draw, and the rendering after those only
            # looks them up: a third of a second less at the end (#19). Other builds render
            # once, afterwards: reading the cache twice would cost a rebuild more than it saves.
            rendered_early = (
                background.submit(
                    render, notes, evidence={}, figures={}, media_dir=media_dir, cache=cache
                )
                if first_build
                else None
            )
            drawing_later = background.submit(
                draw,
                notes,
                figures_dir=root / "figures",
                cache=cache,
                jobs=request.jobs,
                weaker_sandbox=request.weaker_sandbox,
                unverified=lambda uses: verdicts.failed(uses, stop),
                stop=stop,
                slots=slots,
            )
            checked = verify(
                notes,
                cache=cache,
                jobs=request.jobs,
                on_progress=progress("verify"),
                on_verdict=verdicts.settle,
                weaker_sandbox=request.weaker_sandbox,
                stop=stop,
                slots=slots,
            )
            drawing = drawing_later.result()
            if rendered_early is not None:
                rendered_early.result()
        except BaseException:
            # Ctrl-C or SIGTERM, or a stage that broke: the other stage's jobs stop too.
            stop.set()
            raise
    problems += [problem for problem in drawing.problems if problem not in drawing.failed]
    rendering = render(
        notes, evidence=checked.evidence, figures=drawing.figures, media_dir=media_dir, cache=cache
    )
    problems += rendering.problems
    if request.strict:
        problems += warnings
    result = Result(
        request,
        notes=notes,
        recipes=recipes,
        selected=selected,
        rendered=rendering.notes,
        verification=checked,
        warnings=warnings,
        failed_figures=drawing.failed,
    )
    # Notes with problems of their own are not in `notes`: the guard would call them missing.
    # A file that could not be read at all hides which notes it holds: then no released note
    # is called missing in this run (the file's own problem says what to fix first).
    broken = {problem.note_id for problem in loaded.problems if problem.note_id}
    if any(problem.note_id is None for problem in loaded.problems):
        broken |= {note_id for note_id in _released_ids(root)} - {note.id for note in notes}
    if request.until == "preview":
        result = replace(result, problems=tuple(problems))
        if result.status == OK:
            result = replace(result, preview=_preview(result))
    elif request.until == "build":
        result = _publish(replace(result, problems=tuple(problems)), broken)
    else:
        now = int(time.time())
        result = _release(replace(result, problems=tuple(problems)), broken, now=now)[0]
    return result


class _Verdicts:
    """Which answers passed, as verification finds out, for the drawing that waits on them."""

    def __init__(self, verified: Collection[str]) -> None:
        self.verified = frozenset(verified)  # the notes that get a verdict
        self.passed: dict[str, bool] = {}
        self.known = threading.Condition()

    def settle(self, note_id: str, passed: bool) -> None:
        with self.known:
            self.passed[note_id] = passed
            self.known.notify_all()

    def failed(self, note_ids: Collection[str], stop: threading.Event) -> set[str]:
        """Those of `note_ids` whose answers failed, once all have a verdict; all of them if
        the build is stopped first. Notes without tests get no verdict and are not waited for."""
        with self.known:
            while not stop.is_set():
                if self.verified.isdisjoint(set(note_ids) - self.passed.keys()):
                    return {i for i in note_ids if not self.passed.get(i, True)}
                self.known.wait(timeout=0.1)
        return set(note_ids)


def _released_ids(root: Path) -> set[str]:
    from builder.stamps import read_lock

    return set(read_lock(root / LOCK_FILE, Path(LOCK_FILE))[0].notes)


def _chosen_recipes(
    request: Request, notes: tuple[Note, ...]
) -> tuple[tuple[Recipe, ...], list[Problem]]:
    """The recipes the request names (or the ad-hoc one), and what is wrong with them: a
    recipe that does not parse, a tag pattern that matches no tag of the deck, a recipe that
    selects no note, an unknown recipe name."""
    if request.tags is not None:
        if request.recipes:
            return (), [Problem(COMMAND_LINE, "give recipe names or --tags, not both")]
        at = Location(Path("--tags"), 0)
        try:
            include = parse_tags(request.tags)
        except TagExpressionError as error:
            return (), [Problem(at, str(error))]
        recipe = Recipe(request.name, request.output, at, include=include, include_at=at)
        return (recipe,), list(unmatched(recipe, notes) if notes else ())
    found = load_recipes(request.root)
    problems = list(found.problems)
    if notes:
        problems += [p for recipe in found.recipes for p in unmatched(recipe, notes)]
    if not found.recipes and not found.problems:
        problems.append(Problem(Location(Path("decks"), 0), "no recipes: add decks/<name>.yaml"))
    if not request.recipes:
        return found.recipes, problems
    by_name = {recipe.location.path.stem: recipe for recipe in found.recipes}
    for name in request.recipes:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            known = ", ".join(sorted(by_name))
            message = f"no recipe named '{name}' ({hint}recipes: {known})"
            problems.append(Problem(COMMAND_LINE, message))
    chosen = tuple(by_name[name] for name in dict.fromkeys(request.recipes) if name in by_name)
    return chosen, problems


def _release(result: Result, broken: set[str], *, now: int) -> tuple[Result, Stamped | None]:
    """The stamps and the release guard, as a build would apply them; nothing is written."""
    from builder.notetypes import note_type_schemas, note_type_texts
    from builder.release import guard
    from builder.stamps import read_lock, stamp

    root = result.request.root
    lock_path = root / LOCK_FILE
    lock, lock_problems = read_lock(lock_path, Path(LOCK_FILE))
    if lock_problems:
        return replace(result, problems=result.problems + lock_problems), None
    stamped = stamp(result.rendered, note_type_texts(), lock, now=now)
    release = guard(
        lock,
        stamped.lock,
        result.notes,
        note_type_schemas(),
        lock_file=Path(LOCK_FILE),
        lock_file_text=lock_path.read_text(encoding="utf-8") if lock_path.exists() else None,
    )
    breaking = tuple(p for p in release.problems if p.note_id not in broken)
    problems = result.problems
    if not result.request.allow_breaking_changes:
        problems += breaking
    return replace(result, lock=release.lock, breaking=breaking, problems=problems), stamped


def _publish(result: Result, broken: set[str]) -> Result:
    """Stamps, guards and, if all is well, writes every chosen deck and the lock file."""
    from builder.package import package
    from builder.publish import exclusive, publish
    from builder.stamps import write_lock

    request = result.request
    dist = request.root / DIST
    if result.status != OK:
        return _release(result, broken, now=int(time.time()))[0]
    # From reading the lock file to writing it, one build at a time: each stamps from the last.
    with exclusive(dist, on_wait=request.on_wait):
        result, stamped = _release(result, broken, now=int(time.time()))
        if result.status != OK or result.lock is None or stamped is None:
            return result
        lock = result.lock

        def writer(recipe: Recipe) -> Callable[[Path], Packaged]:
            chosen = {note.id for note in result.selected[recipe.output]}
            return lambda path: package(
                recipe.name,
                [note for note in result.rendered if note.id in chosen],
                note_mods=stamped.note_mods,
                note_type_mods=stamped.note_type_mods,
                output=path,
                description=recipe.description,
            )

        written = publish(
            {dist / recipe.output: writer(recipe) for recipe in result.recipes},
            then=lambda: write_lock(request.root / LOCK_FILE, lock),
            checkpoint=request.checkpoint,
        )
    return replace(result, written=written)


def _preview(result: Result) -> Preview:
    from builder.preview import preview

    request = result.request
    rendered = result.rendered
    title = "CV Interview Prep: every note"
    if request.recipes or request.tags is not None:
        chosen = {note.id for notes in result.selected.values() for note in notes}
        rendered = tuple(note for note in rendered if note.id in chosen)
        title = ", ".join(recipe.name for recipe in result.recipes)
    return preview(rendered, out_dir=request.root / request.preview_dir, title=title)
