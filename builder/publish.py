"""Publishing: a build's files replace the previous ones all together, one build at a time.

Each deck is first written beside its final name (`dist/.<name>.staged`); only when every one is
whole are they moved into place and the lock file written, with SIGINT and SIGTERM held off
for those few renames. A build that is interrupted or killed before then leaves the previous
decks and lock file exactly as they were. A second build of the same project waits for the
first: each takes an advisory lock on the `dist/` folder itself (no lock file to clean up),
which the kernel releases when its holder ends, however it ends, so a killed build never leaves
the next one stuck.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

STAGED = ".staged"
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Written = TypeVar("Written")


@contextmanager
def exclusive(folder: Path, *, on_wait: Callable[[], None]) -> Iterator[None]:
    """Holds `folder` for one build: a second one calls `on_wait`, then waits for the first.

    Staged files left in `folder` by a build that was killed are removed once it is held.
    """
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        # Staged decks, and the temporary files they were being written through.
        for stale in folder.glob(f".*{STAGED}*"):
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(handle)  # and with it the lock


def publish(
    writers: Mapping[Path, Callable[[Path], Written]],
    *,
    then: Callable[[], object],
    checkpoint: Callable[[str], None] = lambda _: None,
) -> dict[Path, Written]:
    """Writes every target through its writer, then puts them in place and calls `then`.

    Each writer is given the path to write its target to, beside the target. Only when all
    have returned are the targets replaced and `then` called (to write the lock file), with
    SIGINT and SIGTERM held until both are done and then dropped: from there the build
    finishes. Until then, an exception or interrupt removes what was staged and leaves every
    target as it was. `checkpoint` is called with "writing" once the first target is staged
    and "committing" once all are (tests pause there).
    """
    staged = {target: target.with_name(f".{target.name}{STAGED}") for target in writers}
    try:
        written = {}
        for target, write in writers.items():
            written[target] = write(staged[target])
            if len(written) == 1:
                checkpoint("writing")
        checkpoint("committing")
        with _interrupts_held():
            for target, path in staged.items():
                os.replace(path, target)
            then()
        return written
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM do nothing inside; one that arrives meanwhile is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; it is also the one they interrupt
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in HELD_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
