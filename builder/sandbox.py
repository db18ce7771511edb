"""Runs jobs (code answers, their references, figure scripts) in the sandbox: the parent side.

Jobs go to warm workers (`builder/harness.py`, one `python -I -B` each, in a session of its own
with a scrubbed environment), which have numpy (and, for figures, matplotlib) imported already
and fork a fresh child per job with every wall raised (see `harness.confine`). The worker
enforces the job's timeout and caps what the child may send; this side enforces what only a
parent can: stopping at once on Ctrl-C or SIGTERM, and killing a worker's whole process group
with SIGKILL, which no handler a job installs can catch and no job can leave (it may not start
a session).

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
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
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
) -> Outcome:
    """Run `job` in a fresh walled-in child of a warm worker, for at most `limits.timeout` s.

    Never raises for anything the job does: timeouts, crashes, floods, malformed reports and
    walls that cannot be raised come back as `Outcome.stopped`. Once `stop` is set, the job is
    killed within STOP_WITHIN_S (or not started) and comes back stopped as INTERRUPTED. Its
    folder is removed afterwards. With `weaker`, walls this machine cannot raise are left out
    (and named in `Outcome.weaker`) instead of refusing the job.
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
        return _outcome(_POOL.serve(kind, request, limits.timeout + GRACE_S, stop), limits)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    """One warm `harness.py` process and the pipes to it; `kind` "answers" or "figures"."""

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
        self.ready = False

    def ask(self, request: Any, within: float, stop: threading.Event | None) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        if not self.ready:
            self._read(time.monotonic() + START_WITHIN_S, stop)
            self.ready = True
        body = json.dumps(request).encode()
        try:
            self.process.stdin.write(struct.pack(">Q", len(body)) + body)
            self.process.stdin.flush()
        except OSError as error:
            raise _Dead(f"its worker could not take it ({error})") from None
        return self._read(time.monotonic() + within, stop)

    def _read(self, deadline: float, stop: threading.Event | None) -> Any:
        head = self._exactly(8, deadline, stop)
        (size,) = struct.unpack(">Q", head)
        return json.loads(self._exactly(size, deadline, stop))

    def _exactly(self, size: int, deadline: float, stop: threading.Event | None) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        data = bytearray()
        while len(data) < size:
            if stop is not None and stop.is_set():
                raise _Dead(INTERRUPTED)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Dead("its worker did not answer in time")
            wait = min(remaining, STOP_WITHIN_S) if stop is not None else remaining
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                chunk = os.read(fd, min(size - len(data), 1 << 20))
                if not chunk:
                    raise _Dead(f"its worker ended unexpectedly{self._last_words()}")
                data += chunk
        return bytes(data)

    def _last_words(self) -> str:
        self.process.wait()
        self.errors.seek(0)
        lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return f" ({lines[-1][:300]})" if lines else ""

    def kill(self) -> None:
        # SIGTERM first: the worker then kills and reaps its job, leaving not even a zombie.
        # Then SIGKILL to the whole group (the worker and its job, which may not leave the
        # group), in case the worker did not end in time.
        # The worker is reaped only after that, so that its group id cannot be reused meanwhile.
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


class _Pool:
    """Idle warm workers; a caller takes one per job and gives it back, so that there are as
    many workers as jobs running at once (verification's and drawing's `jobs`)."""

    def __init__(self) -> None:
        self.idle: dict[str, queue.SimpleQueue[_Worker]] = {
            kind: queue.SimpleQueue() for kind in ("answers", "figures")
        }
        self.every: set[_Worker] = set()
        self.lock = threading.Lock()

    def serve(self, kind: str, request: Any, within: float, stop: threading.Event | None) -> Any:
        try:
            worker = self.idle[kind].get_nowait()
        except queue.Empty:
            worker = _Worker(kind)
            with self.lock:
                self.every.add(worker)
        try:
            answer = worker.ask(request, within, stop)
        except (_Dead, OSError, ValueError) as error:
            with self.lock:
                self.every.discard(worker)
            worker.kill()
            return {"dead": str(error)}
        self.idle[kind].put(worker)
        return answer

    def shutdown(self) -> None:
        with self.lock:
            workers, self.every = self.every, set()
        for idle in self.idle.values():
            while True:
                try:
                    idle.get_nowait()
                except queue.Empty:
                    break
        for worker in workers:
            worker.kill()


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
