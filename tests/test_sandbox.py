"""The sandbox: each answer runs in a confined subprocess, and every limit it breaks is reported
in words a person understands, within the limit."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder import sandbox
from builder.cache import Store
from builder.figures import Drawing, draw
from builder.notes import Case, Note
from builder.notes import Tests as CodeTests  # as `Tests`, pytest would try to collect it
from builder.problems import Location
from builder.verify import Failure, Verification, verify
from tests.conftest import REPO, MakeProject, harness_processes, write_project

SOURCE = Path("source/limits.yaml")


def answer(note_id: str, body: str, *, timeout: float = 5.0, expect: object = 0) -> Note:
    """A note whose answer `f()` runs `body`, with one case expecting `expect`."""
    code = "import numpy as np\n\n\ndef f():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    case = Case(name="runs", location=Location(SOURCE, 9), expect=expect, has_expect=True)
    return Note(
        id=note_id,
        location=Location(SOURCE, 5),
        deck="D",
        kind="basic",
        front="Q",
        code=code,
        tests=CodeTests(location=Location(SOURCE, 7), call="f", cases=(case,), timeout=timeout),
    )


def run(tmp_path: Path, *notes: Note) -> Verification:
    return verify(notes, cache=Store(tmp_path / "cache"), jobs=2)


def only_failure(tmp_path: Path, note: Note) -> Failure:
    (failure,) = run(tmp_path, note).failures
    return failure


def test_a_well_behaved_answer_runs_unprivileged_in_a_scrubbed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECKBUILD_SECRET", "token")
    note = answer(
        "quiet",
        """
        import os
        assert "DECKBUILD_SECRET" not in os.environ
        assert os.getuid() != 0 and os.geteuid() != 0
        assert os.getcwd() == os.environ["HOME"] == os.environ["TMPDIR"]
        return 0
        """,
    )

    assert run(tmp_path, note).failures == ()


def test_an_infinite_loop_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    note = answer("spin", "while True:\n    pass\n", timeout=1)

    failure = only_failure(tmp_path, note)

    # Without the timeout, the CPU limit (2 s) would stop it, and the report would say so.
    assert failure.report.splitlines()[0] == (
        "source/limits.yaml:9: spin: case 'runs' timed out after 1 s (note at source/limits.yaml:5)"
    )
    assert failure.location == Location(SOURCE, 9)


# Prints when it started and, half a second later, that it is still running; then spins until
# its timeout. CLOCK_MONOTONIC is one clock for the whole machine, so the times of two answers
# can be compared.
SPINNER = """
import time
started = time.monotonic()
print(started)
while time.monotonic() < started + 0.5:
    pass
print(time.monotonic())
while True:
    pass
"""


def test_answers_run_in_parallel(tmp_path: Path) -> None:
    spinners = [answer(name, SPINNER, timeout=1) for name in ("a", "b")]
    run(tmp_path, answer("warm", "return 0\n"))  # the worker starts and warms up

    verification = run(tmp_path, *spinners)

    assert [failure.note_id for failure in verification.failures] == ["a", "b"]
    # Each report quotes the answer's output: a span of time the answer was alive throughout.
    (a_started, a_alive), (b_started, b_alive) = (
        [float(line) for line in failure.report.split("output:\n", 1)[1].split()]
        for failure in verification.failures
    )
    # Each started before the other's second print: at that moment both were running. One
    # after the other, one of them would have started only after the other was stopped.
    assert b_started < a_alive and a_started < b_alive


def test_jobs_running_at_once_end_each_on_its_own(tmp_path: Path) -> None:
    # One warm worker runs both at once: the spinner's timeout kills the spinner alone, and the
    # answer that finishes meanwhile is judged on what it sent.
    spinner = answer("spinner", SPINNER, timeout=1)
    passing, failing = answer("passes", "return 0\n"), answer("fails", "return 1\n")
    run(tmp_path, answer("warm", "return 0\n"))

    verification = run(tmp_path, spinner, passing, failing)

    assert sorted(verification.evidence) == ["passes"]
    reports = {failure.note_id: failure.report.splitlines()[0] for failure in verification.failures}
    assert reports == {
        "spinner": "source/limits.yaml:9: spinner: case 'runs' timed out after 1 s "
        "(note at source/limits.yaml:5)",
        "fails": "source/limits.yaml:9: fails: case 'runs' failed (note at source/limits.yaml:5)",
    }
    # And one worker process answered them all.
    assert len(answer_workers()) == 1


def answer_workers() -> list[int]:
    """The pids of this test process's workers for answers."""
    return [
        pid
        for pid, parent in harness_processes().items()
        if parent == os.getpid()
        and Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"answers\0")
    ]


# Spins for a second, then returns 0: long enough to be caught running.
SLOW_ZERO = """
import time
started = time.monotonic()
while time.monotonic() < started + 1:
    pass
return 0
"""


@contextlib.contextmanager
def killing_workers_that_run_jobs(times: int) -> Iterator[list[int]]:
    """Meanwhile, SIGKILLs an answers' worker of this test process as soon as it runs a job,
    up to `times` workers (a new one each time); yields the pids killed so far."""
    killed: list[int] = []
    done = threading.Event()

    def kill() -> None:
        while len(killed) < times and not done.is_set():
            parents = list(harness_processes().values())
            for worker in answer_workers():
                if worker not in killed and worker in parents and len(killed) < times:
                    os.kill(worker, signal.SIGKILL)
                    killed.append(worker)
            time.sleep(0.01)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        yield killed
    finally:
        done.set()
        killer.join()


def test_jobs_whose_worker_is_killed_run_again_on_a_new_one(tmp_path: Path) -> None:
    run(tmp_path, answer("warm", "return 0\n"))
    (worker,) = answer_workers()

    with killing_workers_that_run_jobs(times=1) as killed:
        verification = run(tmp_path, *(answer(name, SLOW_ZERO) for name in ("a", "b")))

    assert killed == [worker]
    assert (verification.ran, verification.failures) == (2, ())
    assert sorted(verification.evidence) == ["a", "b"]
    assert answer_workers() not in ([], [worker])


def test_a_job_that_loses_two_workers_is_reported_lost_and_the_next_job_gets_a_new_one(
    tmp_path: Path,
) -> None:
    with killing_workers_that_run_jobs(times=3) as killed:
        lost = run(tmp_path, answer("a", SPINNER, timeout=5))

    assert len(killed) == 2  # the first worker, and the one it ran on again
    (failure,) = lost.failures
    assert "was lost: its worker ended unexpectedly" in failure.report
    after = run(tmp_path, answer("after", "after = 0\nreturn after\n"))  # not in the cache
    assert (after.ran, after.failures) == (1, ())


def test_a_memory_hog_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    note = answer(
        "hog",
        """
        blocks = []
        while True:
            blocks.append(np.empty(2**23))  # address space, without the time to fill it
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   exceeded the memory limit of 512 MiB" in failure.report
    assert "Unable to allocate" in failure.report


@pytest.mark.parametrize(
    ("attempt", "event"),
    [
        ("import os\nos.fork()", "os.fork"),
        ("import subprocess\nsubprocess.run(['true'])", "subprocess.Popen"),
        ("import os\nos.system('true')", "os.system"),
        ("import os\nos.execv('/bin/true', ['true'])", "os.exec"),
    ],
)
def test_starting_a_process_is_refused_and_reported(
    tmp_path: Path, attempt: str, event: str
) -> None:
    note = answer("spawn", f"try:\n{textwrap.indent(attempt, '    ')}\nexcept OSError:\n    pass\n")

    failure = only_failure(tmp_path, note)

    # Reported although the answer caught the refusal.
    assert f"stopped:   tried to start a process ({event})" in failure.report


def test_a_fork_that_bypasses_the_audit_hook_is_refused_by_the_kernel(tmp_path: Path) -> None:
    # libc's fork raises no audit event; the process limit and the unprivileged user stop it.
    note = answer("libc-fork", "import ctypes\nreturn ctypes.CDLL(None).fork()\n", expect=-1)

    assert run(tmp_path, note).failures == ()


def test_an_answer_cannot_guess_the_tests_random_values_from_the_state_its_worker_shares(
    tmp_path: Path,
) -> None:
    # One worker runs both children (jobs=1), forked from the same warm image: numpy's global
    # generator must not start from that image's state in both, or this wrong answer matches.
    note = answer(
        "guesses",
        "return int(np.random.randint(2**62))\n",
        expect={"py": "int(np.random.randint(2**62))"},
    )

    (failure,) = verify((note,), cache=Store(tmp_path / "cache"), jobs=1).failures
    assert "case 'runs' failed" in failure.report


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server


def test_a_network_connection_is_refused_and_the_listener_receives_nothing(
    tmp_path: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    note = answer(
        "phone-home",
        f"""
        import socket
        for connect in (
            lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1),
            lambda: socket.socket().connect(("127.0.0.1", {port})),
        ):
            try:
                connect().sendall(b"secret")
            except OSError:
                pass
        return 0
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   tried to open a network connection" in failure.report
    with pytest.raises(BlockingIOError):
        listener.accept()


@pytest.fixture
def world_writable() -> Iterator[Path]:
    """A folder anyone may write to, so that only the sandbox stands in the way."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o777)
        yield Path(folder)


def test_a_write_outside_its_folder_is_refused_and_the_file_does_not_appear(
    tmp_path: Path, world_writable: Path
) -> None:
    target = world_writable / "escaped.txt"
    note = answer(
        "escape",
        f"""
        try:
            with open({str(target)!r}, "w") as file:
                file.write("escaped")
        except OSError:
            pass
        return 0
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   tried to write outside its folder (open)" in failure.report
    assert not target.exists()


def test_writing_inside_its_own_folder_is_allowed(tmp_path: Path) -> None:
    note = answer(
        "scratch",
        """
        np.save("scratch.npy", np.arange(4))
        return int(np.load("scratch.npy").sum())
        """,
        expect=6,
    )

    assert run(tmp_path, note).failures == ()


def test_a_huge_file_is_stopped_by_the_file_size_limit(tmp_path: Path) -> None:
    note = answer("big-file", "open('big.bin', 'wb').write(bytes(32 << 20))\n")

    failure = only_failure(tmp_path, note)

    assert "stopped:   wrote a file larger than 16 MiB" in failure.report


def test_a_flood_of_output_is_cut_off_at_the_cap_long_before_the_timeout(tmp_path: Path) -> None:
    note = answer("flood", "while True:\n    print('spam' * 50)\n")

    failure = only_failure(tmp_path, note)

    # The flood never ends by itself: only the cap, not its timeout of 5 s, stops it this way.
    assert "flood: case 'runs' printed more than 64 KiB" in failure.report.splitlines()[0]
    assert "timed out" not in failure.report
    assert len(failure.report) < 3000  # quotes the start of the output, not all of it
    assert "spamspam" in failure.report


def test_captured_output_never_exceeds_the_cap() -> None:
    job = {
        "role": "answer",
        "code": "def f():\n    print('x' * 100_000)\n    return 0\n",
        "call": "f",
        "setup": "",
        "cases": [{"args": [], "kwargs": {}, "expr": None}],
        "properties": [],
    }

    outcome = sandbox.run(job, sandbox.Limits(output_kib=16))

    assert outcome.stopped == "printed more than 16 KiB"
    assert len(outcome.output) == 16 * 1024


# --- beyond processes, network and writes: reads, secrets, folders, threads, signals ---------


def landlock_abi() -> int:
    """The kernel's Landlock version, 0 without Landlock (the audit hook then refuses alone)."""
    return max(0, int(ctypes.CDLL(None).syscall(444, None, 0, 1)))


needs_landlock = pytest.mark.skipif(
    landlock_abi() < 1, reason="no Landlock in this kernel: only the audit hook refuses libc calls"
)


@pytest.fixture
def secret_file() -> Iterator[Path]:
    """A file anyone may read, so that only the sandbox stands in the way."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = Path(folder) / "secret.txt"
        path.write_text("hunter2")
        path.chmod(0o644)
        yield path


def test_an_answer_imports_the_standard_library_and_numpy_after_confinement(
    tmp_path: Path,
) -> None:
    # Modules not yet loaded when the sandbox closed: reading the Python installation is allowed.
    note = answer(
        "imports",
        """
        import fractions, statistics, decimal
        from numpy.lib.stride_tricks import sliding_window_view
        windows = sliding_window_view(np.arange(4), 2)
        return int(statistics.mean([1, 3])) + int(fractions.Fraction(1, 2) * 2) + len(windows)
        """,
        expect=6,
    )

    assert run(tmp_path, note).failures == ()


def test_reading_the_parents_environment_is_refused_and_no_secret_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECKBUILD_TOKEN", "hunter2")
    note = answer(
        "environ",
        """
        import os
        for path in (f"/proc/{os.getppid()}/environ", "/proc/1/environ"):
            try:
                print(open(path, "rb").read())
            except OSError:
                pass
        print(os.environ)
        return 0
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   tried to read outside its folder (open)" in failure.report
    assert "hunter2" not in failure.report


@pytest.mark.parametrize(
    "attempt",
    [
        "open('/etc/shadow').read()",
        "open({secret!r}).read()",
        "open({project_file!r}).read()",
        "__import__('os').listdir('/root')",
        "__import__('os').listdir({project_folder!r})",
    ],
)
def test_reading_outside_its_folder_and_the_python_installation_is_refused(
    tmp_path: Path, secret_file: Path, attempt: str
) -> None:
    code = attempt.format(
        secret=str(secret_file),
        project_file=str(REPO / "pyproject.toml"),
        project_folder=str(REPO / "builder"),
    )
    note = answer("peek", f"try:\n    {code}\nexcept (OSError, ImportError):\n    pass\nreturn 0\n")

    failure = only_failure(tmp_path, note)

    assert failure.report.splitlines()[0].endswith(
        "case 'runs' failed (note at source/limits.yaml:5)"
    )
    assert "stopped:   tried to read outside its folder" in failure.report
    assert "hunter2" not in failure.report


@needs_landlock
def test_reads_through_libc_that_bypass_the_audit_hook_are_refused_by_the_kernel(
    tmp_path: Path, secret_file: Path
) -> None:
    note = answer(
        "libc-read",
        f"""
        import ctypes, os
        libc = ctypes.CDLL(None)
        paths = [{str(secret_file)!r}, {str(REPO / "pyproject.toml")!r}, "/etc/shadow"]
        paths.append(f"/proc/{{os.getppid()}}/environ")
        return [libc.open(path.encode(), os.O_RDONLY) for path in paths]
        """,
        expect=[-1, -1, -1, -1],
    )

    assert run(tmp_path, note).failures == ()


def test_changing_to_another_folder_is_refused_so_relative_writes_stay_inside(
    tmp_path: Path, world_writable: Path
) -> None:
    note = answer(
        "chdir",
        f"""
        import os
        try:
            os.chdir({str(world_writable)!r})
        except OSError:
            pass
        with open("escaped.txt", "w") as file:
            file.write("escaped")
        return 0
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   tried to change to a folder outside its own (os.chdir)" in failure.report
    assert list(world_writable.iterdir()) == []


@needs_landlock
def test_a_chdir_and_write_through_libc_are_refused_by_the_kernel(
    tmp_path: Path, world_writable: Path
) -> None:
    note = answer(
        "libc-chdir",
        f"""
        import ctypes, os
        libc = ctypes.CDLL(None)
        libc.chdir({str(world_writable).encode()!r})
        return libc.open(b"escaped.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        """,
        expect=-1,
    )

    assert run(tmp_path, note).failures == ()
    assert list(world_writable.iterdir()) == []


def test_deleting_files_outside_its_folder_is_refused(tmp_path: Path, world_writable: Path) -> None:
    victim = world_writable / "keep.txt"
    victim.write_text("keep me")
    note = answer(
        "delete",
        f"""
        import os, shutil
        for attempt in (
            lambda: os.remove({str(victim)!r}),
            lambda: os.rename({str(victim)!r}, "mine.txt"),
            lambda: shutil.rmtree({str(world_writable)!r}),
        ):
            try:
                attempt()
            except OSError:
                pass
        return 0
        """,
    )

    failure = only_failure(tmp_path, note)

    assert "stopped:   tried to write outside its folder (os.remove)" in failure.report
    assert victim.read_text() == "keep me"


@needs_landlock
def test_a_delete_through_libc_is_refused_by_the_kernel(
    tmp_path: Path, world_writable: Path
) -> None:
    # The folder is writable by everyone, so without Landlock the kernel would allow this.
    victim = world_writable / "keep.txt"
    victim.write_text("keep me")
    note = answer(
        "libc-unlink",
        f"import ctypes\nreturn ctypes.CDLL(None).unlink({str(victim).encode()!r})\n",
        expect=-1,
    )

    assert run(tmp_path, note).failures == ()
    assert victim.read_text() == "keep me"


def test_a_thread_is_refused_so_nothing_outlives_the_answer(tmp_path: Path) -> None:
    note = answer(
        "thread",
        """
        import threading, time
        def spin():
            while True:
                time.sleep(0.01)
        try:
            threading.Thread(target=spin).start()  # not a daemon: it would keep the run alive
        except OSError:
            pass
        return 0
        """,
        timeout=3,
    )

    failure = only_failure(tmp_path, note)

    # The answer returned at once: a thread that kept it alive would make it time out.
    assert failure.report.splitlines()[0] == (
        "source/limits.yaml:9: thread: case 'runs' failed (note at source/limits.yaml:5)"
    )
    assert "stopped:   tried to start a thread" in failure.report
    assert "timed out" not in failure.report


def test_a_thread_started_through_libc_is_refused_by_the_kernel(tmp_path: Path) -> None:
    note = answer(
        "libc-thread",
        """
        import ctypes
        spin = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda _: None)
        thread = ctypes.c_ulong()
        return ctypes.CDLL(None).pthread_create(ctypes.byref(thread), None, spin, None) != 0
        """,
        expect=True,
    )

    assert run(tmp_path, note).failures == ()


def test_an_answer_that_ignores_termination_signals_is_still_stopped_at_its_timeout(
    tmp_path: Path,
) -> None:
    note = answer(
        "stubborn",
        """
        import signal, time
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(number, signal.SIG_IGN)
        while True:
            time.sleep(0.01)  # uses no CPU time: only the stop at its timeout can end it
        """,
        timeout=1,
    )

    failure = only_failure(tmp_path, note)

    assert "case 'runs' timed out after 1 s" in failure.report.splitlines()[0]
    # Had the stop at the timeout not ended it, its worker would have been given up for lost.
    assert "was lost" not in failure.report


@pytest.mark.skipif(
    os.geteuid() != 0 and landlock_abi() < 6,
    reason="neither another user nor Landlock's signal scope keeps libc's kill from the parent",
)
def test_an_answer_that_kills_its_parent_fails_and_the_build_reports_it(
    make_project: MakeProject,
) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: D
                notes:
                  - id: parricide
                    front: Q?
                    code: |
                      import ctypes, os, signal
                      def f():
                          try:
                              os.kill(os.getppid(), signal.SIGKILL)
                          except OSError:
                              pass
                          ctypes.CDLL(None).kill(os.getppid(), signal.SIGKILL)
                          return 0
                    tests:
                      call: f
                      cases:
                        - name: runs
                          expect: 0
            """
        }
    )

    result = subprocess.run(
        [sys.executable, "-m", "builder", "check", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 1, result.stderr  # the builder lived to report
    assert "stopped:   tried to signal another process (os.kill)" in result.stderr


# --- attacks on the sandbox itself (issue 19): each refused or a failed job ---------------------


def ipc_objects() -> dict[str, list[str]]:
    """The ids of the System V IPC objects of the machine's IPC namespace, by kind, less the
    shared memory of programs still running.

    Ids only: other programs (an X server's shared memory, say) touch their own objects'
    counters while a build runs, and that is not an object left behind. They also make new
    segments (a WebKit window of the browser tests, through the X server's MIT-SHM), which
    name their creator; every process of a build has ended when it returns, so a segment it
    left behind names a creator that is gone.
    """
    found = {}
    for kind in ("shm", "msg", "sem"):
        rows = [line.split() for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]]
        # A segment's row names its creator's pid (cpid) fifth.
        left = [row for row in rows if kind != "shm" or not Path(f"/proc/{row[4]}").exists()]
        found[kind] = sorted(row[1] for row in left)
    return found


def leftover_sandbox_processes() -> list[int]:
    """Sandbox workers and jobs alive now, except this test run's own warm workers."""
    found = [pid for pid, parent in harness_processes().items() if parent != os.getpid()]
    return [pid for pid in found if Path(f"/proc/{pid}").exists()]


def project_with(make_project: MakeProject, body: str, expect: object = 42) -> Path:
    code = "import numpy as np\n\n\ndef f():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return make_project(
        {
            "source/a.yaml": "deck: D\nnotes:\n  - id: attack\n    front: Q?\n    code: |\n"
            + textwrap.indent(code, "      ")
            + f"    tests:\n      call: f\n      cases:\n        - name: runs\n"
            f"          expect: {expect}\n"
        }
    )


def check(root: Path, *options: str, preload: str = "") -> subprocess.CompletedProcess[str]:
    """`deckbuild check` in a process of its own, after running `preload` in it."""
    program = f"{preload}\nimport sys\nfrom builder.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", program, "check", "--project", str(root), *options],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )


FORGE = """
import gc, json, os, sys
import numpy
# The old harness compared in here: now there is nothing to patch that the judge uses.
numpy.isclose = numpy.allclose = lambda *args, **kwargs: True
for thing in gc.get_objects():
    if callable(thing) and getattr(thing, "__name__", "") in ("compare_values", "compare"):
        try:
            thing.__code__ = (lambda *args, **kwargs: []).__code__
        except AttributeError:
            pass
main = sys.modules.get("__main__")
for name in dir(main):
    if name.startswith("compare"):
        setattr(main, name, lambda *args, **kwargs: [])
sys.audit_hooks = None
for fd in range(3, 10):
    try:
        os.write(fd, b'{"end": {"step": "case", "index": 0, "failure": null}}\\n')
        os.write(fd, b'{"finish": {"numpy": "2"}}\\n')
    except OSError:
        pass
return 0
"""


def test_a_wrong_answer_that_forges_its_verdict_fails_and_is_never_cached(tmp_path: Path) -> None:
    note = answer("forger", FORGE, expect=42)

    first, second = run(tmp_path, note), run(tmp_path, note)

    assert first.evidence == {} and second.evidence == {}
    assert (first.ran, second.ran, second.cached) == (1, 1, 0)
    assert "could not be verified: its run sent a malformed report" in first.failures[0].report


def test_an_answer_that_exits_after_forging_a_finished_report_fails(tmp_path: Path) -> None:
    note = answer(
        "forger-exits",
        """
        import os
        claim = b'"step": "case", "index": 0, "call": "f()", "result": {"value": {"int": "7"}}'
        os.write(3, b'{"end": {' + claim + b'}}\\n')
        os.write(3, b'{"finish": {}}\\n')
        os._exit(0)
        """,
        expect=42,
    )

    (failure,) = run(tmp_path, note).failures

    # It can only claim a value of its own, and without the expected one it guesses wrong.
    assert "case 'runs' failed" in failure.report
    assert "expected:  42" in failure.report and "actual:    7" in failure.report


def test_the_answer_never_sees_the_expected_values(tmp_path: Path) -> None:
    note = answer(
        "snoop",
        """
        import os, sys
        seen = []
        for fd in range(0, 64):
            try:
                os.lseek(fd, 0, os.SEEK_SET)
            except OSError:
                pass
            try:
                seen.append(os.read(fd, 1 << 20))
            except OSError:
                pass
        seen.append(sys.stdin.read().encode())
        return int(b"987654321" in b"".join(seen))
        """,
        expect=987654321,
    )

    (failure,) = run(tmp_path, note).failures

    assert "actual:    0" in failure.report  # found nowhere it could look
    assert "expected:  987654321" in failure.report  # the judge, outside, knew it


@pytest.mark.parametrize(
    "attempt",
    [
        "socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect({path!r})",
        "assert libc.connect(libc.socket(1, 1, 0), address, len(address)) == 0",
    ],
    ids=["audited", "through libc"],
)
def test_a_path_named_unix_socket_outside_is_unreachable(tmp_path: Path, attempt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o777)
        path = str(Path(folder) / "listener.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            os.chmod(path, 0o777)
            server.listen()
            server.setblocking(False)
            note = answer(
                "unix-socket",
                f"""
                import ctypes, socket, struct
                libc = ctypes.CDLL(None)
                address = struct.pack("H108s", socket.AF_UNIX, {path.encode()!r})
                try:
                    {attempt.format(path=path)}
                except (OSError, AssertionError):
                    pass
                return 0
                """,
            )

            failures = run(tmp_path, note).failures

            if attempt.startswith("socket"):
                assert "stopped:   tried to open a network connection" in failures[0].report
            else:
                assert failures == ()  # the kernel refused the socket: connect had nothing to use
            with pytest.raises(BlockingIOError):
                server.accept()


def test_no_ipc_object_outlives_an_answer(tmp_path: Path) -> None:
    before = ipc_objects()
    note = answer(
        "ipc",
        """
        import ctypes
        libc = ctypes.CDLL(None)
        created = 0o1600  # IPC_CREAT | 0600
        return [libc.shmget(0, 4096, created), libc.msgget(0, created), libc.semget(0, 1, created)]
        """,
        expect=[-1, -1, -1],
    )

    assert run(tmp_path, note).failures == ()
    assert ipc_objects() == before


@pytest.mark.parametrize("how", ["os.execv", "libc.execve"])
def test_a_program_the_answer_writes_cannot_run(
    tmp_path: Path, world_writable: Path, how: str
) -> None:
    marker = world_writable / "ran"
    call = (
        "os.execv('./run.sh', ['run.sh'])"
        if how == "os.execv"
        else "return ctypes.CDLL(None).execve(b'./run.sh', None, None)"
    )
    note = answer(
        "exec",
        f"""
        import ctypes, os
        with open("run.sh", "w") as script:
            script.write("#!/bin/sh\\ntouch {marker}\\n")
        os.chmod("run.sh", 0o755)
        try:
            {call}
        except OSError:
            pass
        return -1
        """,
        expect=-1,
    )

    failures = run(tmp_path, note).failures

    if how == "os.execv":
        assert "stopped:   tried to start a process (os.exec)" in failures[0].report
    else:
        assert failures == ()  # execve returned -1: refused by the kernel
    assert not marker.exists()


def test_a_full_folder_is_a_failed_job(tmp_path: Path) -> None:
    note = answer(
        "filler",
        """
        for number in range(20):
            with open(f"part-{number}.bin", "wb") as file:
                file.write(bytes(15 << 20))
        return 0
        """,
        expect=0,
    )

    (failure,) = run(tmp_path, note).failures

    assert "stopped:   filled its folder" in failure.report
    assert "No space left on device" in failure.report


def test_a_flood_on_the_report_channel_is_cut_off_at_its_cap(tmp_path: Path) -> None:
    note = answer(
        "report-flood",
        """
        import os
        chunk = b"x" * (1 << 20)
        while True:
            os.write(3, chunk)
        """,
    )

    (failure,) = run(tmp_path, note).failures

    # The flood never ends by itself: only the cap, not its timeout of 5 s, stops it this way.
    assert "case 'runs' sent more than 16 MiB of results" in failure.report.splitlines()[0]
    assert "timed out" not in failure.report


# A claimed result of case 0 and a finish, around a value in the data format.
CLAIM = (
    b'{"end": {"step": "case", "index": 0, "call": "f()", "result": {"value": %s}}}\n'
    b'{"finish": {}}\n'
)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\\xff{not json\\n",
        b"[" * 100_000 + b"\\n",
        b'{"end": 5}\\n',
        CLAIM % b'{"array": {"dtype": "O", "shape": [1], "data": ""}}',
        CLAIM % b'{"int": "' + b"9" * 5000 + b'"}',
        CLAIM % (b'{"list": [' * 200 + b"null" + b"]}" * 200),
        b'{"hello": 1}\n' * 3,
    ],
)
def test_a_malformed_report_is_a_failed_job_not_a_crash(tmp_path: Path, garbage: bytes) -> None:
    note = answer("garbage", f"import os\nos.write(3, {garbage!r})\nos._exit(0)\n")

    (failure,) = run(tmp_path, note).failures

    assert "malformed report" in failure.report.splitlines()[0]
    assert "Traceback" not in failure.report


def test_a_report_of_countless_small_messages_is_a_failed_job(tmp_path: Path) -> None:
    note = answer("chatty", "import os\nos.write(3, b'{\"finish\": {}}\\n' * 200_000)\n")

    (failure,) = run(tmp_path, note).failures

    assert "sent more than 100000 messages" in failure.report.splitlines()[0]


def test_a_wrong_answer_fails_the_build_with_status_1_and_leaves_nothing_behind(
    make_project: MakeProject,
) -> None:
    before = ipc_objects()
    root = project_with(
        make_project,
        """
        import ctypes
        ctypes.CDLL(None).shmget(0, 4096, 0o1600)
        return 41
        """,
    )

    result = check(root)

    assert result.returncode == 1, result.stderr
    assert "attack: case 'runs' failed" in result.stderr
    assert ipc_objects() == before
    assert leftover_sandbox_processes() == []


NO_LANDLOCK = """
import errno, pyseccomp
rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
rules.add_rule(pyseccomp.ERRNO(errno.{errno}), "{call}")
rules.load()
"""


@pytest.mark.parametrize(
    ("call", "number", "wall"),
    [("landlock_create_ruleset", "ENOSYS", "Landlock"), ("unshare", "EPERM", "namespaces")],
)
def test_a_machine_without_a_wall_refuses_to_run_answers_unless_told_the_risk(
    make_project: MakeProject, call: str, number: str, wall: str
) -> None:
    # A real kernel-level refusal of the call, for this build and every process it starts.
    preload = NO_LANDLOCK.format(errno=number, call=call)
    root = project_with(make_project, "return 42\n")

    refused = check(root, preload=preload)
    accepted = check(root, "--accept-weaker-sandbox", preload=preload)
    walled = check(root)
    again = check(root)

    assert refused.returncode == 1, refused.stderr
    assert f"the sandbox cannot raise its walls on this machine ({wall}:" in refused.stderr
    assert "pass --accept-weaker-sandbox" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert f"answers ran without these walls of the sandbox: {wall} (" in accepted.stderr
    # A pass behind weaker walls is not cached: the next build runs the answer with every
    # wall, and only that pass is remembered.
    assert "(1 run, 0 from cache)" in walled.stdout, walled.stdout
    assert "(0 run, 1 from cache)" in again.stdout, again.stdout


# --- the same walls for figure scripts ----------------------------------------------------------


def draw_attack(tmp_path: Path, body: str) -> Drawing:
    """Draws a figure whose draw() first runs `body` (which may `return` early)."""
    script = "def draw(fig, variant, code):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    script += "    fig.subplots().plot([0, 1], [0, 1])\n"
    write_project(tmp_path, {"figures/attack.py": script})
    note = Note(
        id="drawn",
        location=Location(Path("source/figures.yaml"), 3),
        deck="D",
        kind="basic",
        front="Q",
        back="A",
        figure="attack",
    )
    return draw([note], figures_dir=tmp_path / "figures", cache=Store(tmp_path / "cache"))


def test_a_figure_script_runs_in_a_scrubbed_environment_as_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECKBUILD_SECRET", "token")
    drawing = draw_attack(
        tmp_path,
        """
        import os
        assert "DECKBUILD_SECRET" not in os.environ
        assert os.getuid() != 0 and os.geteuid() != 0
        assert os.getcwd() == os.environ["HOME"]
        """,
    )

    assert drawing.problems == ()


@pytest.mark.parametrize(
    ("attempt", "refusal"),
    [
        ("open({target!r}, 'w').write('escaped')", "tried to write outside its folder (open)"),
        ("print(open({secret!r}).read())", "tried to read outside its folder (open)"),
        ("print(open({project_file!r}).read())", "tried to read outside its folder (open)"),
        (
            "socket.create_connection(('127.0.0.1', {port}), timeout=1)",
            "tried to open a network connection",
        ),
        ("socket.socket(socket.AF_UNIX).connect({unix!r})", "tried to open a network connection"),
        ("os.execv('/bin/sh', ['sh', '-c', 'touch {target}'])", "tried to start a process"),
        ("subprocess.run(['touch', {target!r}])", "tried to start a process"),
        ("os.kill(os.getppid(), 9)", "tried to signal another process"),
    ],
)
def test_a_figure_script_is_refused_what_an_answer_is_refused(
    tmp_path: Path,
    world_writable: Path,
    secret_file: Path,
    listener: socket.socket,
    attempt: str,
    refusal: str,
) -> None:
    target = world_writable / "escaped.txt"
    unix = world_writable / "listener.sock"
    with socket.socket(socket.AF_UNIX) as unix_server:
        unix_server.bind(str(unix))
        unix_server.listen()
        unix_server.setblocking(False)
        code = attempt.format(
            target=str(target),
            secret=str(secret_file),
            project_file=str(REPO / "pyproject.toml"),
            port=listener.getsockname()[1],
            unix=str(unix),
        )

        drawing = draw_attack(tmp_path, f"import os, socket, subprocess\n{code}\n")

        (problem,) = drawing.failed
        assert problem.message.startswith("figure 'attack' failed")
        assert f"stopped: {refusal}" in problem.message
        assert "hunter2" not in problem.message
        for server in (listener, unix_server):
            with pytest.raises(BlockingIOError):
                server.accept()
    assert sorted(p.name for p in world_writable.iterdir()) == ["listener.sock"]


def test_a_figure_script_cannot_leave_ipc_objects_or_reach_files_through_libc(
    tmp_path: Path, world_writable: Path, secret_file: Path
) -> None:
    before = ipc_objects()
    drawing = draw_attack(
        tmp_path,
        f"""
        import ctypes, os
        libc = ctypes.CDLL(None)
        results = [
            libc.shmget(0, 4096, 0o1600),
            libc.msgget(0, 0o1600),
            libc.open({str(secret_file).encode()!r}, os.O_RDONLY),
            libc.open({str(world_writable / "escaped.txt").encode()!r}, os.O_WRONLY | os.O_CREAT),
            libc.socket(1, 1, 0),
            libc.fork(),
        ]
        assert results == [-1] * 6, results
        """,
    )

    assert drawing.problems == ()
    assert ipc_objects() == before
    assert list(world_writable.iterdir()) == []


def test_a_failing_figure_script_fails_the_build_with_status_1(make_project: MakeProject) -> None:
    root = make_project(
        {
            "source/a.yaml": """
                deck: D
                notes:
                  - id: drawn
                    front: Q?
                    back: A.
                    figure: attack
            """,
            "figures/attack.py": """
                import ctypes


                def draw(fig, variant, code):
                    ctypes.CDLL(None).shmget(0, 4096, 0o1600)
                    open("/etc/passwd").read()
            """,
        }
    )
    before = ipc_objects()

    result = check(root)

    assert result.returncode == 1, result.stderr
    assert "figure 'attack' failed" in result.stderr
    assert "stopped: tried to read outside its folder (open)" in result.stderr
    assert "1 figure script(s) failed; nothing was written" in result.stderr
    assert ipc_objects() == before
    assert leftover_sandbox_processes() == []


# --- a build without root -----------------------------------------------------------------------

# Makes the build that follows run as uid 1000 in a user namespace of its own: the sandbox then
# takes the path of everyone who builds without root (user namespaces, no change of user),
# whoever runs the tests. The uid outside is unchanged, so the interpreter stays readable.
AS_A_USER = """
import ctypes, os
uid, gid = os.geteuid(), os.getegid()
if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:  # CLONE_NEWUSER
    raise SystemExit(f"no user namespace: {os.strerror(ctypes.get_errno())}")
maps = {"setgroups": "deny", "uid_map": f"1000 {uid} 1", "gid_map": f"1000 {gid} 1"}
for name, text in maps.items():
    with open(f"/proc/self/{name}", "w") as file:
        file.write(text)
"""


@pytest.fixture
def as_a_user() -> str:
    probe = subprocess.run(
        [sys.executable, "-c", AS_A_USER], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"this machine cannot start a build without root: {probe.stderr.strip()}")
    return AS_A_USER


def test_a_build_without_root_raises_the_same_walls_for_answers_and_figures(
    make_project: MakeProject, world_writable: Path, listener: socket.socket, as_a_user: str
) -> None:
    through_libc = world_writable / "through-libc.txt"
    audited = world_writable / "audited.txt"
    drawn = world_writable / "drawn.txt"
    port = listener.getsockname()[1]
    root = make_project(
        {
            "source/a.yaml": f"""
                deck: D
                notes:
                  - id: whoami
                    front: Q?
                    code: |
                      import os

                      def f():
                          return os.geteuid()
                    tests:
                      call: f
                      cases:
                        - name: runs as the user who builds
                          expect: 1000
                  - id: kernel-walls
                    front: Q?
                    code: |
                      import ctypes, os, socket, struct

                      def f():
                          libc = ctypes.CDLL(None)
                          with open("run.sh", "w") as script:
                              script.write("#!/bin/sh\\ntouch {through_libc}\\n")
                          os.chmod("run.sh", 0o755)
                          address = struct.pack("HH4s8x", socket.AF_INET, socket.htons({port}),
                                                socket.inet_aton("127.0.0.1"))
                          return [
                              libc.open({str(through_libc).encode()!r}, os.O_WRONLY | os.O_CREAT),
                              libc.connect(libc.socket(2, 1, 0), address, len(address)),
                              libc.execve(b"./run.sh", None, None),
                              libc.shmget(0, 4096, 0o1600),
                              libc.msgget(0, 0o1600),
                              libc.fork(),
                          ]
                    tests:
                      call: f
                      cases:
                        - name: every call is refused by the kernel
                          expect: [-1, -1, -1, -1, -1, -1]
                  - id: audited
                    front: Q?
                    code: |
                      def f():
                          try:
                              open({str(audited)!r}, "w").write("escaped")
                          except OSError:
                              pass
                          return 0
                    tests:
                      call: f
                      cases:
                        - name: runs
                          expect: 0
                  - id: drawn
                    front: Q?
                    back: A.
                    figure: attack
            """,
            "figures/attack.py": f"""
                import ctypes
                import os


                def draw(fig, variant, code):
                    flags = os.O_WRONLY | os.O_CREAT
                    assert ctypes.CDLL(None).open({str(drawn).encode()!r}, flags) == -1
                    fig.subplots().plot([0, 1], [0, 1])
            """,
        }
    )
    before = ipc_objects()

    result = check(root, preload=as_a_user)

    assert result.returncode == 1, result.stderr
    assert "audited: case 'runs' failed" in result.stderr
    assert "stopped:   tried to write outside its folder (open)" in result.stderr
    assert "deckbuild: 1 code answer failed verification" in result.stderr
    assert "figure" not in result.stderr  # it was drawn, its write refused
    assert list(world_writable.iterdir()) == []
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert ipc_objects() == before
    assert leftover_sandbox_processes() == []
