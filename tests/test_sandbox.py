"""The sandbox: each answer runs in a confined subprocess, and every limit it breaks is reported
in words a person understands, within the limit."""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder import sandbox
from builder.cache import Store
from builder.notes import Case, Note
from builder.notes import Tests as CodeTests  # as `Tests`, pytest would try to collect it
from builder.problems import Location
from builder.verify import Failure, Verification, verify
from tests.conftest import REPO, MakeProject

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

    started = time.monotonic()
    failure = only_failure(tmp_path, note)

    assert time.monotonic() - started < 2.5
    assert failure.report.splitlines()[0] == (
        "source/limits.yaml:9: spin: case 'runs' timed out after 1 s (note at source/limits.yaml:5)"
    )
    assert failure.location == Location(SOURCE, 9)


def test_answers_run_in_parallel(tmp_path: Path) -> None:
    spinners = [answer(name, "while True:\n    pass\n", timeout=1) for name in ("a", "b")]

    started = time.monotonic()
    verification = run(tmp_path, *spinners)

    assert time.monotonic() - started < 2.0  # one after the other would take two timeouts
    assert [failure.note_id for failure in verification.failures] == ["a", "b"]


def test_a_memory_hog_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    note = answer(
        "hog",
        """
        blocks = []
        while True:
            blocks.append(np.ones(2**23))
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

    started = time.monotonic()
    failure = only_failure(tmp_path, note)

    assert time.monotonic() - started < 2.5  # the timeout is 5 s
    assert "flood: case 'runs' printed more than 64 KiB" in failure.report.splitlines()[0]
    assert len(failure.report) < 3000  # quotes the start of the output, not all of it
    assert "spamspam" in failure.report


def test_captured_output_never_exceeds_the_cap() -> None:
    job = {
        "code": "def f():\n    print('x' * 100_000)\n    return 0\n",
        "call": "f",
        "setup": "",
        "rtol": 1e-6,
        "atol": 1e-9,
        "cases": [
            {
                "name": "prints",
                "args": [],
                "kwargs": {},
                "expr": None,
                "expect": 0,
                "raises": None,
                "rtol": None,
                "atol": None,
            }
        ],
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

    started = time.monotonic()
    failure = only_failure(tmp_path, note)

    assert time.monotonic() - started < 2.5
    assert "stopped:   tried to start a thread" in failure.report


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
        import signal
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(number, signal.SIG_IGN)
        while True:
            pass
        """,
        timeout=1,
    )

    started = time.monotonic()
    failure = only_failure(tmp_path, note)

    assert time.monotonic() - started < 2.5
    assert "case 'runs' timed out after 1 s" in failure.report.splitlines()[0]


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
