"""Verification: every code answer runs against its numpy tests, sandboxed, before it ships.

Each note with `tests` becomes a job for `builder.harness`, run by `builder.sandbox` in its own
confined subprocess, several at a time. A passing answer earns evidence (the line its card shows)
and is remembered in a cache keyed by everything that can change the verdict; a failing one
earns a report a person can act on.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from builder import sandbox
from builder.cache import Store, digest
from builder.notes import Case, Note, Property, Tests
from builder.problems import Location
from builder.versions import installed_version

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
    # Walls of the sandbox that answers ran without, named (only with `weaker_sandbox`).
    weaker: tuple[str, ...] = ()


Verdict = Evidence | tuple[Failure, ...]


def verify(
    notes: Sequence[Note],
    *,
    cache: Store | None = None,
    jobs: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
    on_verdict: Callable[[str, bool], None] | None = None,
    weaker_sandbox: bool = False,
    stop: threading.Event | None = None,
    slots: threading.Semaphore | None = None,
) -> Verification:
    """Run the answer of every note with `tests` against them, `jobs` subprocesses at a time.

    The code that runs is `note.code` byte for byte. An answer whose code, tests, harness,
    limits, Python and numpy are unchanged since it last passed, behind every wall, is not run
    again. `on_progress(done, total)` is called as each note's verdict is known, and
    `on_verdict(note_id, passed)` with it. With `weaker_sandbox`, answers run even where the
    sandbox cannot raise every wall (see `sandbox.run`). `stop` and `slots` are shared with the
    drawing that runs meanwhile: setting `stop` kills every running answer (it is set when this
    call is interrupted); `slots` bound how many jobs of both kinds run at once.
    """
    code_notes = [note for note in notes if note.tests is not None]
    runner = _runner_identity()
    verdicts: dict[str, Verdict] = {}
    pending: list[tuple[Note, Mapping[str, Any], sandbox.Limits, str]] = []
    cached = 0

    def settle(note: Note, verdict: Verdict) -> None:
        verdicts[note.id] = verdict
        if on_verdict is not None:
            on_verdict(note.id, isinstance(verdict, Evidence))
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

    stop = stop or threading.Event()
    weaker: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        running = {
            pool.submit(_run_note, job, limits, stop, weaker_sandbox, slots): (note, key)
            for note, job, limits, key in pending
        }
        for future in as_completed(running):
            note, key = running[future]
            answer, reference = future.result()
            left_out = (*answer.weaker, *(reference.weaker if reference else ()))
            weaker.update(left_out)
            verdict = _judge(note, answer, reference)
            # A pass behind weaker walls is not remembered: the next build runs the answer
            # again, so that a verdict in the cache always means one reached with every wall.
            if isinstance(verdict, Evidence) and not left_out:
                _remember(cache, key, verdict.numpy_version)
            settle(note, verdict)
    except BaseException:
        # Ctrl-C or SIGTERM (a KeyboardInterrupt here): no queued answer starts and the
        # running ones are killed, so that the build stops at once rather than after every
        # answer has run.
        stop.set()
        raise
    finally:
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
        weaker=tuple(sorted(weaker)),
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
    """Everything outside the note that can change a verdict: harness, judge, Python, numpy."""
    judge = Path(__file__).with_name("judge.py")
    harness = hashlib.sha256(sandbox.HARNESS.read_bytes() + judge.read_bytes()).hexdigest()
    return f"harness {harness}; python {sys.version}; numpy {_numpy_version()}"


def _numpy_version() -> str:
    return installed_version("numpy", "numpy")


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


# --- running and judging ---------------------------------------------------------------------


def _run_note(
    job: Mapping[str, Any],
    limits: sandbox.Limits,
    stop: threading.Event,
    weaker: bool,
    slots: threading.Semaphore | None,
) -> tuple[sandbox.Outcome, sandbox.Outcome | None]:
    """The answer's run and, when the tests need code of their own, the tests' run without it:
    two children, so that nothing the answer does touches what it is compared with."""
    answer = sandbox.run(_answer_job(job), limits, stop=stop, weaker=weaker, slots=slots)
    reference = _reference_job(job)
    if reference is None:
        return answer, None
    return answer, sandbox.run(reference, limits, stop=stop, weaker=weaker, slots=slots)


def _answer_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """What the answer's child gets: its code and the inputs, never what is expected of it."""
    return {
        "role": "answer",
        "code": job["code"],
        "call": job["call"],
        "setup": job["setup"],
        "cases": [
            {"args": case["args"], "kwargs": case["kwargs"], "expr": case["expr"]}
            for case in job["cases"]
        ],
        "properties": [
            {"inputs": prop["inputs"], "trials": prop["trials"]} for prop in job["properties"]
        ],
    }


def _reference_job(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the tests' own child computes: `{py: ...}` expectations, property references."""
    values = list(dict.fromkeys(s for case in job["cases"] for s in _python_values(case["expect"])))
    if not values and not job["properties"]:
        return None
    return {
        "role": "reference",
        "setup": job["setup"],
        "values": values,
        "properties": [
            {key: prop[key] for key in ("inputs", "reference", "trials")}
            for prop in job["properties"]
        ],
    }


def _python_values(raw: Any) -> list[str]:
    """The `{py: ...}` sources in a value of the tests: code, so evaluated only in the sandbox."""
    if isinstance(raw, list):
        return [source for item in raw for source in _python_values(item)]
    if isinstance(raw, dict):
        if raw.keys() == {"py"}:
            return [str(raw["py"])]
        return [source for value in raw.values() for source in _python_values(value)]
    return []


Ends = dict[tuple[str, int, int | None], Mapping[str, Any]]


@dataclass(frozen=True)
class _Run:
    """One child's report, read: the steps that ended, the one running when it stopped."""

    ends: Ends
    started: Mapping[str, Any] | None
    stopped: str | None  # why it did not finish; None if it did
    output: str


def _read(outcome: sandbox.Outcome) -> _Run:
    """The child's messages checked against the protocol; ValueError if they break it."""
    ends: Ends = {}
    started: Mapping[str, Any] | None = None
    finished = False
    for message in outcome.messages:
        ((kind, body),) = message.items()
        if kind in ("start", "end"):
            if not isinstance(body, dict) or not isinstance(body.get("step"), str):
                raise ValueError(f"a {kind} message without a step")
            index, trial = body.get("index"), body.get("trial")
            if type(index) is not int or not (trial is None or type(trial) is int):
                raise ValueError(f"a {kind} message without an index")
        if kind == "start":
            started = body
        elif kind == "end":
            key = (body["step"], body["index"], body.get("trial"))
            if key in ends:
                raise ValueError(f"{key[0]} {key[1]} reported twice")
            ends[key] = body
            if key[2] is None:
                started = None
        elif kind == "finish":
            finished = True
        elif kind != "weaker":
            raise ValueError(f"an unknown message '{kind[:40]}'")
    stopped = outcome.stopped
    if stopped is None and not finished:
        stopped = "ended without a verdict"
    return _Run(ends, started, stopped, outcome.output)


def _judge(note: Note, answer: sandbox.Outcome, reference: sandbox.Outcome | None) -> Verdict:
    """Evidence if every case and property passed and both runs finished; else every failure.

    Judged here, in the builder: the answer's child only reported its values.
    """
    from builder import judge  # numpy, imported only when an answer actually ran

    try:
        return _verdict(note, _read(answer), None if reference is None else _read(reference))
    except (judge.Malformed, ValueError, TypeError, KeyError, AttributeError) as error:
        header = (
            f"{note.location}: {note.id}: could not be verified: its run sent a malformed report"
        )
        return (_failure(note, note.location, header, [f"  {str(error)[:OUTPUT_WIDTH]}"]),)


def _verdict(note: Note, answer: _Run, reference: _Run | None) -> Verdict:
    from builder import judge

    tests = _tests(note)
    failures: list[Failure] = []

    def fail(location: Location, what: str, lines: Sequence[str]) -> None:
        header = f"{location}: {note.id}: {what} failed{_note_at(note, location)}"
        failures.append(_failure(note, location, header, lines))

    def stopped(run: _Run, whose: str) -> None:
        assert run.stopped is not None
        location, what = _step(note, run.started) if run.started else (note.location, whose)
        header = f"{location}: {note.id}: {what} {run.stopped}{_note_at(note, location)}"
        failures.append(_failure(note, location, header, _output(run.output)))

    ref = reference or _Run({}, None, None, "")
    evaluated: dict[str, Any] = {}
    for index, source in enumerate(
        list(dict.fromkeys(s for case in tests.cases for s in _python_values(case.expect)))
    ):
        end = ref.ends.get(("value", index, None))
        if end is not None:
            result = end["result"]
            evaluated[source] = (
                judge.unwire(result["value"]) if "value" in result else _Error(result["error"])
            )
    for what, end_key, location in (
        ("the code", ("code", 0, None), note.location),
        ("the tests' setup", ("setup", 0, None), tests.location),
    ):
        end = answer.ends.get(end_key)
        if end is not None and end["result"] is not None:
            fail(location, what, judge.trouble(end["result"]["error"]))
            break
        end = ref.ends.get(end_key)
        if end is not None and end["result"] is not None:
            fail(
                location, f"{what} (run without the answer)", judge.trouble(end["result"]["error"])
            )
            break
    else:
        for index, case in enumerate(tests.cases):
            end = answer.ends.get(("case", index, None))
            if end is None:
                if answer.stopped is None:
                    raise ValueError(f"no result for case {index}")
                continue
            lines = _case(case, end, tests, evaluated)
            if lines is not None:
                fail(case.location, f"case '{case.name}'", lines)
        for index, prop in enumerate(tests.properties):
            lines = _property(index, prop, tests, answer, ref)
            if lines is not None:
                fail(prop.location, f"property '{prop.name}'", lines)
    if answer.stopped is not None:
        stopped(answer, "the answer")
    if reference is not None and reference.stopped is not None:
        stopped(reference, "the tests' own run")
    if failures:
        return tuple(failures)
    return _evidence(note.id, tests, _numpy_version())


@dataclass(frozen=True)
class _Error:
    """A `{py: ...}` value of the tests that raised when it was evaluated."""

    error: Mapping[str, Any]


def _case(
    case: Case, end: Mapping[str, Any], tests: Tests, evaluated: Mapping[str, Any]
) -> list[str] | None:
    """None if the case passes, else the lines that say why not."""
    from builder.judge import compare_values, expected_for, field, raised_as, show, trouble, unwire

    rtol = tests.rtol if case.rtol is None else case.rtol
    atol = tests.atol if case.atol is None else case.atol
    if "inputs" in end:
        return field("inputs", "could not be built from the test") + trouble(end["inputs"]["error"])
    if case.expr is not None:
        shown = field("expr", case.expr)
    elif tests.call is None:
        return field("missing", "the case has 'args' but the tests name no 'call'")
    else:
        shown = field("call", str(end["call"]))
    result = end["result"]
    if "error" in result:
        error = result["error"]
        if error.get("broke"):
            return shown + trouble(error)
        if case.raises is not None:
            if raised_as(error, case.raises):
                return None
            return shown + field("expected", f"raises {case.raises}") + trouble(error)
        return shown + field("expected", show(case.expect)) + trouble(error)
    actual = unwire(result["value"])
    if case.raises is not None:
        returned = field("actual", f"returned {show(actual)}")
        return shown + field("expected", f"raises {case.raises}") + returned
    broken = [evaluated.get(s) for s in _python_values(case.expect)]
    for value in broken:
        if isinstance(value, _Error):
            return (
                shown + field("expected", "could not be built from the test") + trouble(value.error)
            )
    try:
        expected = expected_for(actual, case.expect, evaluated)
    except (TypeError, ValueError, KeyError) as error:
        return shown + field("expected", f"could not be built from the test: {error}")
    differences = compare_values(actual, expected, rtol, atol)
    if not differences:
        return None
    return shown + field("expected", show(expected)) + field("actual", show(actual)) + differences


def _property(
    index: int, prop: Property, tests: Tests, answer: _Run, reference: _Run
) -> list[str] | None:
    """None if the answer agrees with the reference on every trial, else why not (first trial)."""
    from builder.judge import compare_values, field, show, trouble, unwire

    if tests.call is None:
        return field("missing", "a property needs the tests to name a 'call'")
    rtol = tests.rtol if prop.rtol is None else prop.rtol
    atol = tests.atol if prop.atol is None else prop.atol
    for run in (reference, answer):
        end = run.ends.get(("property", index, None))
        if end is not None and end.get("result") is not None:
            return trouble(end["result"]["error"])

    def heading(trial: int, inputs: str) -> list[str]:
        drawn = f"{trial + 1} of {prop.trials}, inputs drawn with np.random.default_rng({trial})"
        return field("trial", drawn) + field("inputs", inputs)

    for trial in range(prop.trials):
        ref = reference.ends.get(("property", index, trial))
        got = answer.ends.get(("property", index, trial))
        if ref is None or got is None:
            if reference.stopped is None and answer.stopped is None:
                raise ValueError(f"no result for trial {trial} of property {index}")
            return None  # the run stopped: reported as such
        for drawn in (ref, got):
            if "inputs" in drawn:
                return heading(trial, "could not be drawn") + trouble(drawn["inputs"]["error"])
        if "error" in ref["result"]:
            failed = field("reference", "failed") + trouble(ref["result"]["error"])
            return heading(trial, show(unwire(ref["args"]))) + failed
        expected = unwire(ref["result"]["value"])
        if "error" in got["result"]:
            why = trouble(got["result"]["error"])
        else:
            actual = unwire(got["result"]["value"])
            differences = compare_values(actual, expected, rtol, atol)
            if not differences:
                continue
            why = field("actual", show(actual)) + differences
        # Values are shown only for the trial that fails, and only here: showing those of every
        # trial that passes took a sixth of the builder's own time in a cold build, and in the
        # tests' own runs a seventh of verifying (#19).
        return heading(trial, show(unwire(ref["args"]))) + field("reference", show(expected)) + why
    return None


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
    if step["step"] == "value":
        return tests.location, "the tests' own values"
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
