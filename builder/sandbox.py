"""Runs jobs (code answers, their references, figure scripts) in the sandbox: the parent side.

Jobs go to warm workers (`builder/harness.py`, one `python -I -B` for answers and one for
figures, each in a session of its own with a scrubbed environment), which have numpy (and, for
figures, matplotlib) imported already and fork a fresh child per job with every wall raised
(see `harness.confine`), as many at once as the callers' `slots` allow. The worker enforces
the job's timeout and caps what the child may send; this side enforces what only a parent can:
stopping at once on Ctrl-C or SIGTERM, and killing a worker's whole process group with SIGKILL,
which no handler a job installs can catch and no job can leave (it may not start a session).

Nothing here judges: `Outcome.messages` is what the child said, to be read as untrusted data.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import math
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).with_name("harness.py")

# Jobs run as this user when the builder runs as root (nobody on Debian and most others).
UNPRIVILEGED = 65534

# How long a run may go on after it was told to stop. Workers run in sessions of their own, so
# a terminal's Ctrl-C reaches only the builder, which then stops them.
STOP_WITHIN_S = 0.1
INTERRUPTED = "was stopped: the build was interrupted"
WEAKER_FLAG = "--accept-weaker-sandbox"
# How long a worker may take to import numpy and matplotlib and say it is ready.
START_WITHIN_S = 120.0
# How long past a job's timeout the worker may take to report (it kills the job at the timeout).
GRACE_S = 5.0
# How many workers a job may lose before it is given up: a job cannot reach its worker (its
# walls forbid signals out and the worker reads it within caps), so a worker that ends under a
# job was ended from outside (the kernel's out-of-memory killer, say), and the job runs again.
WORKERS_PER_JOB = 2

# What a child may say (see harness.py), and how often: far more than any note's steps.
MESSAGES = frozenset({"start", "end", "finish", "refused", "weaker"})
MAX_MESSAGES = 100_000

# Variables that make numeric libraries start one thread only: every thread reserves address
# space, which the memory limit counts, and the process limit forbids new threads anyway.
_ONE_THREAD = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@dataclass(frozen=True)
class Limits:
    """What one job may use."""

    timeout: float = 5.0  # wall-clock seconds for the whole job
    memory_mib: int = 512  # address space, on top of the warm worker's
    file_mib: int = 16  # size of any one file it writes
    folder_mib: int = 64  # all its files together
    output_kib: int = 64  # stdout and stderr together
    report_mib: int = 16  # what it reports: values, PNGs

    @property
    def cpu_seconds(self) -> int:
        """CPU time allowed: a backstop behind the timeout, which normally comes first."""
        return math.ceil(self.timeout) + 1


@dataclass(frozen=True)
class Outcome:
    """What came back from one job."""

    messages: tuple[Mapping[str, Any], ...]  # the child's messages, in order (see harness.py)
    stopped: str | None  # why the job ended without finishing, in words; None if it finished
    output: str  # what it printed on stdout and stderr, at most `Limits.output_kib`
    weaker: tuple[str, ...] = ()  # walls left out, when the user accepted that risk


def run(
    job: Mapping[str, Any],
    limits: Limits,
    *,
    stop: threading.Event | None = None,
    weaker: bool = False,
    slots: threading.Semaphore | None = None,
) -> Outcome:
    """Run `job` in a fresh walled-in child of a warm worker, for at most `limits.timeout` s.

    Never raises for anything the job does: timeouts, crashes, floods, malformed reports and
    walls that cannot be raised come back as `Outcome.stopped`. Once `stop` is set, the job is
    killed within STOP_WITHIN_S (or not started) and comes back stopped as INTERRUPTED. Its
    folder is removed afterwards. With `weaker`, walls this machine cannot raise are left out
    (and named in `Outcome.weaker`) instead of refusing the job. With `slots`, the job holds
    one of them while it runs, and only then: its worker starts and warms up without one, so
    that verifying and drawing can share `--jobs` slots while workers of both kinds warm up.
    """
    if stop is not None and stop.is_set():
        return Outcome(messages=(), stopped=INTERRUPTED, output="")
    folder = Path(tempfile.mkdtemp(prefix="deckbuild-job-"))
    try:
        if os.geteuid() == 0:
            os.chown(folder, UNPRIVILEGED, UNPRIVILEGED)
        request = {
            "folder": str(folder),
            "confine": {
                "memory_mib": limits.memory_mib,
                "file_mib": limits.file_mib,
                "folder_mib": limits.folder_mib,
                "cpu_seconds": limits.cpu_seconds,
                "uid": UNPRIVILEGED,
                "weaker": weaker,
                "environment": _job_environment(folder),
            },
            "caps": {
                "timeout": limits.timeout,
                "output_bytes": limits.output_kib << 10,
                "report_bytes": limits.report_mib << 20,
            },
            "job": job,
        }
        kind = "figures" if job.get("role") == "figure" else "answers"
        answer = _POOL.serve(kind, request, limits.timeout + GRACE_S, stop, slots)
        return _outcome(answer, limits)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_workers() -> None:
    """Start the worker of each kind now, without waiting for it: it imports and warms up
    meanwhile, and the next jobs take it. For a build that knows it will run jobs of both
    kinds before it can say which."""
    for kind in ("answers", "figures"):
        _POOL.worker(kind)


def shutdown() -> None:
    """Stop every worker (they hold no job between calls); the next `run` starts new ones."""
    _POOL.shutdown()


def _job_environment(folder: Path) -> dict[str, str]:
    # Nothing of the builder's environment reaches a job (tokens, proxies, PYTHON* settings).
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        **dict.fromkeys(_ONE_THREAD, "1"),
    }


def _worker_environment() -> dict[str, str]:
    # The worker keeps HOME (and MPLCONFIGDIR, if set) only to find matplotlib's font cache.
    kept = {key: os.environ[key] for key in ("HOME", "MPLCONFIGDIR") if key in os.environ}
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        # Equal inputs draw equal bytes: nothing may depend on the order of a set of strings.
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        **kept,
        **dict.fromkeys(_ONE_THREAD, "1"),
    }


# --- the workers --------------------------------------------------------------------------------


class _Dead(Exception):
    """The worker ended, or had to be killed, before it answered."""


class _Worker:
    """One warm `harness.py` process and the pipes to it; `kind` "answers" or "figures".

    It runs every job it is given at once, each in a child of its own, and answers each by the
    id it was sent with: a thread here reads its answers and hands each to the job's caller."""

    def __init__(self, kind: str) -> None:
        # What the worker itself prints (not its jobs): why it could not start, if it could not.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed in kill)
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(HARNESS), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            cwd="/",
            env=_worker_environment(),
            start_new_session=True,
        )
        self.ready = threading.Event()
        self.lock = threading.Lock()  # for `waiting`, `ended` and `last_id`
        # One request at a time on its stdin. Not `lock`, which the reading thread takes: a
        # request longer than the pipe holds waits for the worker to read it, and the worker may
        # first have to write answers, which only that thread reads.
        self.writing = threading.Lock()
        self.waiting: dict[int, queue.SimpleQueue[Any]] = {}
        self.ended: str | None = None  # why it can answer no more
        self.last_id = 0
        self.killed = False  # by the first of its jobs that found it broken, or by shutdown
        threading.Thread(target=self._read_answers, name=f"{kind} worker", daemon=True).start()

    def warm(self, stop: threading.Event | None) -> None:
        """Wait until the worker has imported what it needs and said it is ready."""
        deadline = time.monotonic() + START_WITHIN_S
        while not self.ready.wait(_step(deadline, stop)):
            pass
        if self.ended is not None:
            raise _Dead(self.ended)

    def ask(self, request: Any, within: float, stop: threading.Event | None) -> Any:
        assert self.process.stdin is not None
        self.warm(stop)
        answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        with self.lock:
            if self.ended is not None:
                raise _Dead(self.ended)
            self.last_id += 1
            number = self.last_id
            self.waiting[number] = answers
        body = json.dumps({"id": number, **request}).encode()
        with self.writing:
            try:
                self.process.stdin.write(struct.pack(">Q", len(body)) + body)
                self.process.stdin.flush()
            except OSError as error:
                raise _Dead(f"its worker could not take it ({error})") from None
        deadline = time.monotonic() + within
        while True:
            wait = _step(deadline, stop, "its worker did not answer in time")
            with contextlib.suppress(queue.Empty):
                answer = answers.get(timeout=wait)
                if answer is not None:
                    return answer
                if stop is not None and stop.is_set():
                    raise _Dead(INTERRUPTED)  # the worker was stopped with the build
                raise _Dead(self.ended or "its worker ended")

    def _read_answers(self) -> None:
        """Hand each answer to the job it is for, until the worker ends; then tell every job
        still waiting why no answer will come."""
        assert self.process.stdout is not None
        stdout = self.process.stdout
        try:
            while True:
                head = stdout.read(8)
                if len(head) < 8:
                    break
                (size,) = struct.unpack(">Q", head)
                frame = json.loads(stdout.read(size))
                if frame.get("ready"):
                    self.ready.set()
                    continue
                with self.lock:
                    waiting = self.waiting.pop(frame["id"], None)
                if waiting is not None:
                    waiting.put(frame)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a closed pipe, or a frame no harness writes: either way, the worker is done
        last_words = self._last_words()
        with self.lock:
            self.ended = f"its worker ended unexpectedly{last_words}"
            waiting_jobs, self.waiting = list(self.waiting.values()), {}
        self.ready.set()
        for waiting in waiting_jobs:
            waiting.put(None)

    def _last_words(self) -> str:
        """The last line the worker printed, once it has ended (not reaped: see `kill`)."""
        try:
            os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT)
            self.errors.seek(0)
            lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):  # reaped and closed by `kill` meanwhile
            return ""
        return f" ({lines[-1][:300]})" if lines else ""

    def stop(self) -> None:
        """Tell the worker to end (SIGTERM), unless it was killed already: `kill` waits."""
        with self.lock:  # `kill` reaps only after setting `killed`: the pid is still its own
            if not self.killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGTERM)

    def kill(self) -> None:
        # SIGTERM first: the worker then kills and reaps its jobs, leaving not even a zombie.
        # Then SIGKILL to the whole group (the worker and its jobs, which may not leave the
        # group), in case the worker did not end in time.
        # The worker is reaped only after that, so that its group id cannot be reused meanwhile;
        # and only once, by whichever of its jobs comes first: the pid is free again after that.
        with self.lock:
            if self.killed:
                return
            self.killed = True
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WITHIN_S
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.002)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.errors):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def _step(deadline: float, stop: threading.Event | None, late: str = "") -> float:
    """How long to wait before looking at `stop` again; _Dead once it is set or past `deadline`
    (then with `late` as the reason, or the worker not starting in time)."""
    if stop is not None and stop.is_set():
        raise _Dead(INTERRUPTED)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Dead(late or "its worker did not start in time")
    return min(remaining, STOP_WITHIN_S) if stop is not None else remaining


class _Pool:
    """One warm worker of each kind, started when first needed and shared by every job of its
    kind: at most as many run at once as verification's and drawing's `jobs` allow."""

    def __init__(self) -> None:
        self.workers: dict[str, _Worker] = {}
        self.lock = threading.Lock()

    def serve(
        self,
        kind: str,
        request: Any,
        within: float,
        stop: threading.Event | None,
        slots: threading.Semaphore | None,
    ) -> Any:
        """The worker's answer to `request`, or `{"dead": why}` once the job has lost
        WORKERS_PER_JOB workers, or the build was stopped."""
        lost = 0
        while True:
            worker = self.worker(kind)
            try:
                worker.warm(stop)
                with _slot(slots, stop):
                    return worker.ask(request, within, stop)
            except (_Dead, OSError, ValueError) as error:
                # The worker broke, or the build stopped: the jobs still running on the worker
                # end with it, and the next job (or this one, once more) starts a new one.
                with self.lock:
                    if self.workers.get(kind) is worker:
                        del self.workers[kind]
                worker.kill()
                lost += 1
                stopped = str(error) == INTERRUPTED or (stop is not None and stop.is_set())
                if stopped or lost == WORKERS_PER_JOB:
                    return {"dead": str(error)}

    def worker(self, kind: str) -> _Worker:
        """The worker of `kind`, started now if there is none (or it has ended)."""
        with self.lock:
            worker = self.workers.get(kind)
            if worker is None or worker.ended is not None:
                worker = self.workers[kind] = _Worker(kind)
            return worker

    def shutdown(self) -> None:
        with self.lock:
            workers, self.workers = list(self.workers.values()), {}
        # Told all at once, the workers end side by side: `kill` then waits for each in turn.
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.kill()


@contextlib.contextmanager
def _slot(slots: threading.Semaphore | None, stop: threading.Event | None) -> Iterator[None]:
    """Hold one of `slots` (if any) for the duration; _Dead if `stop` is set meanwhile."""
    if slots is None:
        yield
        return
    while not slots.acquire(timeout=STOP_WITHIN_S):
        if stop is not None and stop.is_set():
            raise _Dead(INTERRUPTED)
    try:
        yield
    finally:
        slots.release()


_POOL = _Pool()
atexit.register(shutdown)


# --- what came back -----------------------------------------------------------------------------


def _outcome(answer: Mapping[str, Any], limits: Limits) -> Outcome:
    if "dead" in answer:
        dead = str(answer["dead"])
        return Outcome((), dead if dead == INTERRUPTED else f"was lost: {dead}", "")
    output = base64.b64decode(answer["output"]).decode("utf-8", "replace")
    stopped: str | None = answer["stopped"]
    lines = base64.b64decode(answer["report"]).split(b"\n")
    if len(lines) > MAX_MESSAGES:
        return Outcome((), f"sent more than {MAX_MESSAGES} messages", output)
    torn = lines.pop()  # after the last newline: empty, unless the child was cut off mid-line
    messages: list[Mapping[str, Any]] = []
    weaker: tuple[str, ...] = ()
    for number, line in enumerate(lines, start=1):
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict) or len(message) != 1 or message.keys() - MESSAGES:
            # The harness writes nothing else: the job wrote it, so the job fails.
            return Outcome(tuple(messages), f"sent a malformed report (line {number})", output)
        if "refused" in message:
            why = str(message["refused"])
            refusal = (
                f"was not run: the sandbox cannot raise its walls on this machine ({why}); "
                f"to run jobs without that wall, at your own risk, pass {WEAKER_FLAG}"
            )
            return Outcome((), refusal, output)
        if "weaker" in message and isinstance(message["weaker"], list):
            weaker = tuple(str(item) for item in message["weaker"])
        messages.append(message)
    if stopped is None and torn:
        stopped = "sent a malformed report (an unfinished last line)"
    if stopped is None and not any("finish" in message for message in messages):
        stopped = _exit_in_words(answer["status"], limits)
    return Outcome(tuple(messages), stopped, output, weaker)


def _exit_in_words(status: int, limits: Limits) -> str:
    if status >= 0:
        return f"exited with status {status} before it finished"
    number = -status
    if number == signal.SIGXCPU:
        return f"used more than {limits.cpu_seconds} s of CPU time"
    if number == signal.SIGKILL:
        return f"was killed, probably for exceeding the memory limit of {limits.memory_mib} MiB"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"crashed ({name})"
