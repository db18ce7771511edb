"""Publishing: an interrupted or killed build leaves every file as it was, an interrupted one stops
at once, and two builds at once do not corrupt each other. Real `python -m builder build`
processes, real signals."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from builder.publish import exclusive, publish
from tests.conftest import MakeProject, Run, harness_processes

Deckbuild = Callable[..., Run]

NOTES = """
    deck: Detection
    notes:
      - id: iou-touching
        front: What is the IoU of two boxes that only touch?
        back: {back}
      - id: code-double
        front: Write `double(x)` for an array `x`.
        code: |
          def double(x):
              return 2 * x
        tests:
          call: double
          cases:
            - name: doubles every element
              args: [[1, 2]]
              expect: [2, 4]
"""
RECIPES = {
    "decks/all.yaml": "name: Everything\n",
    "decks/code.yaml": "name: Code\ninclude: kind::code\n",
}


@pytest.fixture
def project(make_project: MakeProject, deckbuild: Deckbuild) -> Path:
    """A project built once, then edited, so that its next build would change every output."""
    root = make_project({"source/a.yaml": NOTES.format(back="Zero."), **RECIPES}, recipe=False)
    assert deckbuild(root, "build").status == 0
    edit(root, "Zero.", "Zero, the intersection has no area.")
    (root / "decks" / "code.yaml").write_text("name: Code, renamed\ninclude: kind::code\n")
    return root


def edit(root: Path, old: str, new: str) -> None:
    path = root / "source" / "a.yaml"
    path.write_text(path.read_text().replace(old, new))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file the build writes, by path (caches apart)."""
    files = [root / "notes.lock", *(root / "dist").rglob("*")]
    return {str(p.relative_to(root)): p.read_bytes() for p in files if p.is_file()}


def caches(root: Path) -> dict[str, bytes]:
    files = (root / ".cache").rglob("*")
    return {str(p.relative_to(root)): p.read_bytes() for p in files if p.is_file()}


def assert_intact(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """No cache entry lost or torn: a build may add entries (rendering ran before the stop)."""
    assert before.keys() <= after.keys()
    assert all(after[name] == data for name, data in before.items() if "/verify/" in name)
    assert all(json.loads(data) for name, data in after.items() if name.endswith(".json"))


def visible(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in files.items() if not Path(name).name.startswith(".")}


def start_build(root: Path, pause_at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **({"DECKBUILD_PAUSE_AT": pause_at} if pause_at else {})}
    return subprocess.Popen(
        [sys.executable, "-c", AS_FROM_A_TERMINAL, "build", "--project", str(root), "--jobs", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


# `deckbuild` with Ctrl-C turned into KeyboardInterrupt, as from a terminal, even when pytest
# runs in the background: a shell without job control starts background commands with SIGINT
# ignored, which Python then leaves ignored.
AS_FROM_A_TERMINAL = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from builder.cli import main
sys.exit(main(sys.argv[1:]))
"""


def wait_for(process: subprocess.Popen[str], line: str, timeout: float = 60) -> None:
    """Reads the process's stderr until `line` appears; fails if it ends or time runs out."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(deadline - time.monotonic()):
                continue
            text = process.stderr.readline()
            assert text, f"the build ended without saying {line!r}: {seen}"
            seen.append(text)
            if text.rstrip("\n") == line:
                return
    pytest.fail(f"no {line!r} within {timeout} s: {seen}")


@pytest.fixture
def builds() -> Iterator[list[subprocess.Popen[str]]]:
    """Started builds, killed at the end of the test if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("point", "number", "status"),
    [
        ("writing", signal.SIGINT, 130),
        ("committing", signal.SIGTERM, 143),
        ("writing", signal.SIGKILL, -signal.SIGKILL),
        ("committing", signal.SIGKILL, -signal.SIGKILL),
    ],
)
def test_an_interrupted_build_leaves_decks_lock_and_caches_as_they_were(
    project: Path,
    deckbuild: Deckbuild,
    builds: list[subprocess.Popen[str]],
    point: str,
    number: int,
    status: int,
) -> None:
    before, cached = snapshot(project), caches(project)
    build = start_build(project, pause_at=point)
    builds.append(build)
    wait_for(build, f"deckbuild: paused at {point}")

    build.send_signal(number)

    assert build.wait(timeout=30) == status
    after = snapshot(project)
    if number == signal.SIGKILL:
        assert visible(after) == visible(before)  # staged files may stay behind, unseen
    else:
        assert after == before  # staged files cleaned up too
    assert_intact(cached, caches(project))
    rebuilt = deckbuild(project, "build")
    assert rebuilt.status == 0, rebuilt.err
    assert "(0 run, 1 from cache)" in rebuilt.out  # the verification cache survived
    assert visible(snapshot(project)) == snapshot(project)  # nothing staged is left
    changed = {name for name, data in snapshot(project).items() if before.get(name) != data}
    assert {"notes.lock", "dist/all.apkg", "dist/code.apkg"} <= changed


SLOW = """
    deck: Slow
    notes:
""" + "".join(
    f"""
      - id: code-slow-{i}
        front: Write `wait()`.
        code: |
          import time


          def wait():
              time.sleep(3)
              return {i}
        tests:
          call: wait
          timeout: 10
          cases:
            - name: waits, then answers
              expect: {i}
"""
    for i in range(6)
)


def sandbox_jobs(build: subprocess.Popen[str]) -> tuple[list[int], list[int]]:
    """The build's sandbox workers, and the jobs (answers, figures) they have running."""
    parents = harness_processes()
    workers = [pid for pid, parent in parents.items() if parent == build.pid]
    return workers, [pid for pid, parent in parents.items() if parent in workers]


def started(build: subprocess.Popen[str], what: str) -> tuple[list[int], list[int]]:
    """Waits until `build` runs a sandbox job (`what` names it); its workers and their jobs."""
    deadline = time.monotonic() + 60
    while not (running := sandbox_jobs(build))[1]:
        assert build.poll() is None, f"the build ended before any {what} ran"
        assert time.monotonic() < deadline, f"no {what} started within 60 s"
        time.sleep(0.02)
    return running


def test_ctrl_c_while_answers_run_stops_them_and_the_build_at_once(
    make_project: MakeProject, builds: list[subprocess.Popen[str]]
) -> None:
    root = make_project({"source/slow.yaml": SLOW})
    build = start_build(root)  # one answer at a time: the others wait in the queue
    builds.append(build)
    workers, answers = started(build, "answer")

    build.send_signal(signal.SIGINT)  # a terminal's Ctrl-C; answers run in sessions of their own
    build.wait(timeout=60)

    # The running answer sleeps 3 s and five more wait behind it. Had the build let any of them
    # finish, its verdict would be in the cache; none is, and the running one is gone.
    assert not list((root / ".cache").rglob("verify/*.json"))
    assert build.returncode == 130
    assert build.stderr is not None
    assert "deckbuild: interrupted; nothing was written" in build.stderr.read()
    assert not [pid for pid in workers + answers if Path(f"/proc/{pid}").exists()]


SLOW_FIGURES = {
    "source/drawn.yaml": "deck: Drawn\nnotes:\n"
    + "".join(
        f"  - id: drawn-{i}\n    front: Q{i}?\n    back: A.\n    figure: slow{i}\n"
        for i in range(6)
    ),
    **{
        f"figures/slow{i}.py": f"import time\n\n\ndef draw(fig, variant, code):\n"
        f"    time.sleep(3)\n    fig.subplots().plot([0, {i}])\n"
        for i in range(6)
    },
}


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_while_figures_draw_stops_them_and_the_build_at_once(
    make_project: MakeProject, builds: list[subprocess.Popen[str]], number: int
) -> None:
    root = make_project(SLOW_FIGURES)
    build = start_build(root)  # one figure at a time: the others wait in the queue
    builds.append(build)
    workers, jobs = started(build, "figure")

    build.send_signal(number)
    build.wait(timeout=60)

    # Each figure sleeps 3 s and five more wait in the queue. Had the build let any of them
    # finish, its drawing would be in the cache; none is, and the running one is gone.
    assert not list((root / ".cache").rglob("figures/*.json"))
    assert build.returncode == (130 if number == signal.SIGINT else 143)
    left = [pid for pid in workers + jobs if Path(f"/proc/{pid}").exists()]
    assert not left, [Path(f"/proc/{pid}/stat").read_text() for pid in left]
    assert not (root / "dist").exists() and not (root / "notes.lock").exists()


def test_a_killed_build_leaves_no_sandbox_process_behind(
    make_project: MakeProject, builds: list[subprocess.Popen[str]]
) -> None:
    root = make_project({"source/slow.yaml": SLOW, **SLOW_FIGURES})
    build = start_build(root)
    builds.append(build)
    workers, jobs = started(build, "job")

    build.send_signal(signal.SIGKILL)  # no cleanup of its own: its workers notice it has gone
    build.wait(timeout=60)

    deadline = time.monotonic() + 5
    while (left := [pid for pid in workers + jobs if Path(f"/proc/{pid}").exists()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert not left, [Path(f"/proc/{pid}/stat").read_text() for pid in left]


def test_a_second_build_waits_for_the_first_and_stamps_from_its_lock(
    project: Path, deckbuild: Deckbuild, builds: list[subprocess.Popen[str]]
) -> None:
    first = start_build(project, pause_at="committing")
    builds.append(first)
    wait_for(first, "deckbuild: paused at committing")
    # A second edit: the second build sees it, the first does not.
    edit(project, "Write `double(x)`", "Write `double(x)` (numpy)")
    second = start_build(project)
    builds.append(second)

    wait_for(second, "deckbuild: waiting for another build of this project to finish with dist/")
    assert second.poll() is None
    assert first.stdin is not None
    first.stdin.close()  # let the first go on

    assert first.wait(timeout=60) == 0
    assert second.wait(timeout=60) == 0
    settled = snapshot(project)
    # What the second build left is what one more build makes: the lock and decks agree.
    assert deckbuild(project, "build").status == 0
    assert snapshot(project) == settled


# --- the pieces, in-process ----------------------------------------------------------------


def test_a_failing_writer_leaves_every_target_as_it_was(tmp_path: Path) -> None:
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    first.write_text("old a")
    second.write_text("old b")

    def fail(path: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish(
            {first: lambda path: path.write_text("new a"), second: fail},
            then=lambda: pytest.fail("the lock must not be written"),
        )

    assert (first.read_text(), second.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.apkg", "b.apkg"]


def test_files_a_killed_build_staged_are_removed_by_the_next(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / ".all.apkg.staged").write_text("half")
    (dist / "..all.apkg.staged.k3j2").write_text("quarter")
    (dist / "all.apkg").write_text("released")

    with exclusive(dist, on_wait=lambda: pytest.fail("nobody else holds it")):
        assert [p.name for p in dist.iterdir()] == ["all.apkg"]
