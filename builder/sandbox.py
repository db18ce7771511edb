"""Runs one code answer in a confined subprocess: the parent side of the sandbox.

The child is a fresh `python -I -B builder/harness.py` started in its own session, in a fresh
temporary folder, with a scrubbed environment. The harness confines itself (resource limits, a
network namespace, an unprivileged user, Landlock, an audit hook) before any answer code runs;
this side enforces what only a parent can: the wall-clock timeout, the output cap, and killing
the whole process group with SIGKILL, which no handler an answer installs can catch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import shutil
import signal
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

# The answer runs as this user when the builder runs as root (nobody on Debian and most others).
UNPRIVILEGED = 65534

# How long a run may go on after it was told to stop. Answers run in sessions of their own, so a
# terminal's Ctrl-C reaches only the builder, which then stops them.
STOP_WITHIN_S = 0.1
INTERRUPTED = "was stopped: the build was interrupted"

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
    """What one answer may use."""

    timeout: float = 5.0  # wall-clock seconds for the whole note, interpreter start included
    memory_mib: int = 512  # address space
    file_mib: int = 16  # size of any file it writes
    output_kib: int = 64  # stdout and stderr together

    @property
    def cpu_seconds(self) -> int:
        """CPU time allowed: a backstop behind the timeout, which normally comes first."""
        return math.ceil(self.timeout) + 1


@dataclass(frozen=True)
class Outcome:
    """What came back from one run of the harness."""

    messages: tuple[Mapping[str, Any], ...]  # the harness's messages, in order (see harness.py)
    stopped: str | None  # why the run ended without finishing, in words; None if it finished
    output: str  # what it printed on stdout and stderr, at most `Limits.output_kib`


def run(job: Mapping[str, Any], limits: Limits, *, stop: threading.Event | None = None) -> Outcome:
    """Run the harness on `job` in a fresh confined subprocess, for at most `limits.timeout` s.

    Never raises for anything the answer does: timeouts, crashes and floods come back as
    `Outcome.stopped`. Once `stop` is set, the run is killed within STOP_WITHIN_S (or not
    started) and comes back stopped as INTERRUPTED. The temporary folder is removed afterwards.
    """
    if stop is not None and stop.is_set():
        return Outcome(messages=(), stopped=INTERRUPTED, output="")
    folder = Path(tempfile.mkdtemp(prefix="deckbuild-answer-"))
    try:
        if os.geteuid() == 0:
            os.chown(folder, UNPRIVILEGED, UNPRIVILEGED)
        return _run_in(folder, job, limits, stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_in(
    folder: Path, job: Mapping[str, Any], limits: Limits, stop: threading.Event | None
) -> Outcome:
    request = {
        "confine": {
            "memory_mib": limits.memory_mib,
            "file_mib": limits.file_mib,
            "cpu_seconds": limits.cpu_seconds,
            "uid": UNPRIVILEGED,
        },
        "job": job,
    }
    reader, writer = os.pipe()
    with open(reader, "rb", buffering=0) as report:
        try:
            process = _start(folder, request, writer)
        finally:
            os.close(writer)
        with process:
            deadline = time.monotonic() + limits.timeout
            output, reported, stopped = _drain(process, report.fileno(), deadline, limits, stop)
            if stopped is None:
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    stopped = f"timed out after {limits.timeout:g} s"
            if stopped is not None:
                # Kill the group before reaping its leader, so its id cannot be reused meanwhile.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    messages = tuple(_messages(bytes(reported)))
    if stopped is None and not any("finish" in message for message in messages):
        stopped = _exit_in_words(process.returncode, limits)
    text = bytes(output[: limits.output_kib * 1024]).decode("utf-8", "replace")
    return Outcome(messages=messages, stopped=stopped, output=text)


def _start(folder: Path, request: Mapping[str, Any], report: int) -> subprocess.Popen[bytes]:
    # The request goes through an unnamed file rather than a pipe, so a large job cannot block
    # the parent before it starts draining the child's output.
    with tempfile.TemporaryFile() as stdin:
        stdin.write(json.dumps(request).encode())
        stdin.seek(0)
        return subprocess.Popen(
            [sys.executable, "-I", "-B", str(HARNESS), str(report)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(report,),
            cwd=folder,
            env=_environment(folder),
            start_new_session=True,
        )


def _environment(folder: Path) -> dict[str, str]:
    # Nothing of the builder's environment leaks in (tokens, proxies, PYTHON* settings).
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "HOME": str(folder),
        "TMPDIR": str(folder),
        **dict.fromkeys(_ONE_THREAD, "1"),
    }


def _drain(
    process: subprocess.Popen[bytes],
    report: int,
    deadline: float,
    limits: Limits,
    stop: threading.Event | None,
) -> tuple[bytearray, bytearray, str | None]:
    """Read output and messages until all pipes close, the time is up, the output overflows or
    `stop` is set."""
    assert process.stdout is not None and process.stderr is not None
    cap = limits.output_kib * 1024
    output, reported = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, output)
        selector.register(process.stderr, selectors.EVENT_READ, output)
        selector.register(report, selectors.EVENT_READ, reported)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return output, reported, f"timed out after {limits.timeout:g} s"
            if stop is not None:
                if stop.is_set():
                    return output, reported, INTERRUPTED
                remaining = min(remaining, STOP_WITHIN_S)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                # Stop at once rather than at the timeout: a flood is already a failure.
                if len(output) > cap:
                    return output, reported, f"printed more than {limits.output_kib} KiB"
    return output, reported, None


def _messages(reported: bytes) -> list[Mapping[str, Any]]:
    messages: list[Mapping[str, Any]] = []
    for line in reported.splitlines():
        # A run killed mid-write leaves a torn last line; everything before it is whole.
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict):
                messages.append(message)
    return messages


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
