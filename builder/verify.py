"""Verification: every code answer runs against its numpy tests, sandboxed, before it ships.

Each note with `tests` becomes a job for `builder.harness`, run by `builder.sandbox` in its own
confined subprocess, several at a time. A passing answer earns evidence (the line its card shows)
and is remembered in a cache keyed by everything that can change the verdict; a failing one
earns a report a person can act on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any

from builder import sandbox
from builder.cache import Store, digest
from builder.notes import Note, Tests
from builder.problems import Location

STAGE = "verify"
OUTPUT_LINES = 10  # of captured output quoted in a report
OUTPUT_WIDTH = 160


@dataclass(frozen=True)
class Evidence:
    """What a passing answer was checked against; its card shows `line`."""

    note_id: str
    cases: int  # named cases passed
    properties: int  # property checks passed
    trials: int  # random inputs tried across properties
    numpy_version: str

    @property
    def line(self) -> str:
        checks = _count(self.cases, "numpy case")
        if self.properties:
            checks += f" and {_count(self.properties, 'property check')}"
            checks += f" ({_count(self.trials, 'random input')})"
        return f"Verified: {checks} passed on numpy {self.numpy_version}"


@dataclass(frozen=True)
class Failure:
    """One failing case, property or run of a note's answer."""

    note_id: str
    location: Location  # of the failing case or property, else of the note
    report: str  # multi-line, human-readable, ready to print


@dataclass(frozen=True)
class Verification:
    """The verdicts on every code note, and what it took to reach them."""

    evidence: Mapping[str, Evidence]  # note id -> evidence, for every passing code note
    failures: tuple[Failure, ...]  # every failure of the run, in note order
    ran: int  # subprocesses actually run
    cached: int  # answers answered from the cache
    cases: int  # total named cases verified (passing notes)


Verdict = Evidence | tuple[Failure, ...]


def verify(
    notes: Sequence[Note],
    *,
    cache: Store | None = None,
    jobs: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Run the answer of every note with `tests` against them, `jobs` subprocesses at a time.

    The code that runs is `note.code` byte for byte. An answer whose code, tests, harness, limits,
    Python and numpy are unchanged since it last passed is not run again. `on_progress(done,
    total)` is called as each note's verdict is known.
    """
    code_notes = [note for note in notes if note.tests is not None]
    runner = _runner_identity()
    verdicts: dict[str, Verdict] = {}
    pending: list[tuple[Note, Mapping[str, Any], sandbox.Limits, str]] = []
    cached = 0

    def settle(note: Note, verdict: Verdict) -> None:
        verdicts[note.id] = verdict
        if on_progress is not None:
            on_progress(len(verdicts), len(code_notes))

    for note in code_notes:
        tests = _tests(note)
        job = _job(note.code or "", tests)
        limits = sandbox.Limits(timeout=tests.timeout)
        try:
            key = _key(job, limits, runner)
        except (TypeError, ValueError) as error:
            # A YAML value JSON cannot carry (a date, say) cannot reach the answer either.
            report = (
                f"{tests.location}: {note.id}: a test value cannot be passed to the answer: {error}"
            )
            settle(note, (Failure(note.id, tests.location, report),))
            continue
        numpy_version = _recall(cache, key)
        if numpy_version is None:
            pending.append((note, job, limits, key))
        else:
            cached += 1
            settle(note, _evidence(note.id, tests, numpy_version))

    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        running = {
            pool.submit(sandbox.run, job, limits, stop=stop): (note, key)
            for note, job, limits, key in pending
        }
        for future in as_completed(running):
            note, key = running[future]
            verdict = _judge(note, future.result())
            if isinstance(verdict, Evidence):
                _remember(cache, key, verdict.numpy_version)
            settle(note, verdict)
    finally:
        # Every answer has run by now, unless Ctrl-C or SIGTERM (a KeyboardInterrupt here)
        # came first: then no queued answer starts and the running ones are killed, so that
        # the build stops at once rather than after every answer has run.
        stop.set()
        pool.shutdown(cancel_futures=True)

    evidence = {
        note.id: verdict
        for note in code_notes
        if isinstance(verdict := verdicts[note.id], Evidence)
    }
    failures = tuple(
        failure
        for note in code_notes
        if not isinstance(verdict := verdicts[note.id], Evidence)
        for failure in verdict
    )
    return Verification(
        evidence=evidence,
        failures=failures,
        ran=len(pending),
        cached=cached,
        cases=sum(item.cases for item in evidence.values()),
    )


def _tests(note: Note) -> Tests:
    assert note.tests is not None
    return note.tests


def _job(code: str, tests: Tests) -> dict[str, Any]:
    """What the harness needs, and nothing else: locations stay out, so moving a note in its
    file keeps its cached verdict."""
    return {
        "code": code,
        "call": tests.call,
        "setup": tests.setup,
        "rtol": tests.rtol,
        "atol": tests.atol,
        "cases": [
            {
                "name": case.name,
                "args": list(case.args),
                "kwargs": case.kwargs,
                "expr": case.expr,
                "expect": case.expect,
                "raises": case.raises,
                "rtol": case.rtol,
                "atol": case.atol,
            }
            for case in tests.cases
        ],
        "properties": [
            {
                "name": prop.name,
                "inputs": prop.inputs,
                "reference": prop.reference,
                "trials": prop.trials,
                "rtol": prop.rtol,
                "atol": prop.atol,
            }
            for prop in tests.properties
        ],
    }


def _evidence(note_id: str, tests: Tests, numpy_version: str) -> Evidence:
    return Evidence(
        note_id=note_id,
        cases=len(tests.cases),
        properties=len(tests.properties),
        trials=sum(prop.trials for prop in tests.properties),
        numpy_version=numpy_version,
    )


# --- the cache -------------------------------------------------------------------------------


def _runner_identity() -> str:
    """Everything outside the note that can change a verdict: harness, Python, numpy."""
    harness = hashlib.sha256(sandbox.HARNESS.read_bytes()).hexdigest()
    numpy_version = importlib.metadata.version("numpy")
    return f"harness {harness}; python {sys.version}; numpy {numpy_version}"


def _key(job: Mapping[str, Any], limits: sandbox.Limits, runner: str) -> str:
    text = json.dumps({"job": job, "limits": asdict(limits), "runner": runner}, sort_keys=True)
    return digest(text)


def _recall(cache: Store | None, key: str) -> str | None:
    """The numpy version the answer passed on, if it passed before; None otherwise."""
    found = cache.get(STAGE, key) if cache is not None else None
    numpy_version = found.get("numpy") if isinstance(found, dict) else None
    return numpy_version if isinstance(numpy_version, str) else None


def _remember(cache: Store | None, key: str, numpy_version: str) -> None:
    # Only passing answers are remembered. A failure is run again next time, so its author sees
    # the report on every run until it is fixed, and a limit tripped by a busy machine (a
    # timeout) is not frozen into the cache.
    if cache is not None:
        cache.put(STAGE, key, {"numpy": numpy_version})


# --- reports ---------------------------------------------------------------------------------


def _judge(note: Note, outcome: sandbox.Outcome) -> Verdict:
    """Evidence if every step passed and the run finished; else every failure it reported."""
    failures: list[Failure] = []
    started: Mapping[str, Any] | None = None
    finish: Mapping[str, Any] | None = None
    for message in outcome.messages:
        if "start" in message:
            started = message["start"]
        elif "end" in message:
            started = None
            if message["end"]["failure"] is not None:
                location, what = _step(note, message["end"])
                header = f"{location}: {note.id}: {what} failed{_note_at(note, location)}"
                failures.append(_failure(note, location, header, message["end"]["failure"]))
        elif "finish" in message:
            finish = message["finish"]
    if outcome.stopped is not None:
        location, what = _step(note, started) if started else (note.location, "the answer")
        header = f"{location}: {note.id}: {what} {outcome.stopped}{_note_at(note, location)}"
        failures.append(_failure(note, location, header, _output(outcome.output)))
    elif finish is None or "error" in finish:
        error = finish["error"] if finish else "the verifier ended without a verdict"
        header = f"{note.location}: {note.id}: could not be verified: {error}"
        failures.append(_failure(note, note.location, header, _output(outcome.output)))
    if failures:
        return tuple(failures)
    assert finish is not None
    return _evidence(note.id, _tests(note), finish["numpy"])


def _step(note: Note, step: Mapping[str, Any]) -> tuple[Location, str]:
    tests = _tests(note)
    if step["step"] == "case":
        case = tests.cases[step["index"]]
        return case.location, f"case '{case.name}'"
    if step["step"] == "property":
        prop = tests.properties[step["index"]]
        return prop.location, f"property '{prop.name}'"
    if step["step"] == "setup":
        return tests.location, "the tests' setup"
    return note.location, "the code"


def _note_at(note: Note, location: Location) -> str:
    return "" if location == note.location else f" (note at {note.location})"


def _failure(note: Note, location: Location, header: str, lines: Sequence[str]) -> Failure:
    report = "\n".join([header, *(f"    {line}" for line in lines)])
    return Failure(note_id=note.id, location=location, report=report)


def _output(output: str) -> list[str]:
    lines = output.splitlines()
    if not lines:
        return []
    shown = [f"  {line[:OUTPUT_WIDTH]}" for line in lines[:OUTPUT_LINES]]
    more = len(lines) - len(shown)
    return ["output:", *shown, *([f"  ... ({more} more lines)"] if more else [])]


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"
