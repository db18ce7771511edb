"""The sandbox's inside: a warm worker that runs each job in a fresh, walled-in child.

`builder.sandbox` starts this file as a script, `python -I -B harness.py answers` (or
`figures`), in a session of its own with a scrubbed environment. A worker imports numpy (and,
for figures, matplotlib and Pillow, and draws a throwaway figure) once, then serves jobs: it
reads a frame (8-byte big-endian length, then JSON) on stdin,

    {"id": n, "folder": path, "confine": {...}, "caps": {...}, "job": {"role": ..., ...}}

forks a child for it, and writes one frame back on stdout when the child is done:

    {"id": n, "report": base64, "output": base64, "stopped": why | null, "status": code}

It reads the next request while children run, so one worker of each kind runs every job the
builder runs at once, and its imports and warm-up are paid once per build, not once per job
slot (#19). Answers come back in the order the jobs end.

The child raises every wall before any job code runs (see `confine`), then writes JSON lines on
its report descriptor (fd 3). Roles and their lines:

- "answer": runs the answer's code and setup, each case's call or expression and each property's
  trials, and reports only what came out: `{"start": step}`, `{"end": {**step, "result": R}}`
  where R is `{"value": wire value}` or `{"error": {"types", "text", "broke"}}` (null for steps
  that return nothing). It never sees expected values: `builder.judge` compares in the parent.
- "reference": evaluates the tests' `{py: ...}` expected values and runs each property's inputs
  and reference, without the answer, so that nothing the answer does can touch them; a trial's
  end also carries its arguments, `"args"`, as a wire value.
- "figure": draws one figure script in both variants and returns the two PNGs.

Every run ends with `{"finish": {}}`, or `{"refused": why}` when a wall could not be raised.
A worker is single-threaded (so forking is safe) and keeps no job's state: each child starts
from the warm, clean image and dies with its job.
"""

from __future__ import annotations

import _thread
import base64
import builtins
import contextlib
import copy
import ctypes
import errno
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import linecache
import os
import resource
import select
import signal
import struct
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import numpy as np

# Imported here, once per worker, rather than by nearly every child: numpy imports it lazily on
# the first np.random, which every property trial makes (8 ms, with hashlib and libcrypto).
import numpy.random

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

NO_SECCOMP = ""
try:  # Missing, it is a wall that cannot be raised, reported as such rather than a crash.
    import pyseccomp
except (ImportError, RuntimeError) as error:  # RuntimeError: pyseccomp found no libseccomp
    pyseccomp = None
    NO_SECCOMP = str(error)

REPORT_FD = 3
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x08000000, 0x10000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
CAPABILITY_VERSION_3 = 0x20080522
CAP_DAC_READ_SEARCH = 2

# Landlock (Linux 5.13 and later), from <linux/landlock.h>: the same system call numbers on
# every architecture. Each ABI version adds access rights; a ruleset handles the ones it knows.
LANDLOCK_CREATE_RULESET = 444
LANDLOCK_ADD_RULE = 445
LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
FS_RIGHTS_SINCE = ((5, (1 << 16) - 1), (3, (1 << 15) - 1), (2, (1 << 14) - 1), (1, (1 << 13) - 1))
NET_TCP = 0b11  # bind and connect (ABI 4)
SCOPES = 0b11  # abstract Unix sockets and signals outside the sandbox (ABI 6)

# System calls no job has a use for. A job gets EPERM for each, whatever library makes the call:
# new sockets of any family (path-named Unix sockets are files, beyond the network namespace),
# running programs, new processes and threads, System V and POSIX IPC, namespaces and mounts,
# tracing or reading other processes, and leaving the worker's process group (which the parent
# kills as a whole).
REFUSED_CALLS = (
    *("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"),
    *("execve", "execveat", "fork", "vfork", "clone", "clone3"),
    *("shmget", "shmat", "msgget", "msgsnd", "semget", "semop", "mq_open", "mq_timedsend"),
    *("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "fsopen"),
    *("open_tree", "fsmount", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp"),
    *("pidfd_open", "pidfd_getfd", "pidfd_send_signal", "setsid", "setpgid", "keyctl"),
    *("add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup"),
    *("kexec_load", "init_module", "finit_module", "delete_module", "reboot", "swapon"),
    *("mknod", "mknodat", "acct", "quotactl", "setuid", "setgid", "setgroups", "capset"),
    *("memfd_create", "memfd_secret"),
)

PROCESS_EVENTS = frozenset(
    {"os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.system", "pty.spawn"}
    | {"subprocess.Popen"}
)
NETWORK_EVENTS = frozenset(
    {"socket.bind", "socket.connect", "socket.sendmsg", "socket.sendto", "socket.__new__"}
    | {"socket.getaddrinfo", "socket.gethostbyaddr", "socket.gethostbyname"}
)
# Audit events that change the file system, with the positions of the paths they change.
WRITE_EVENTS: Mapping[str, tuple[int, ...]] = {
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (1,),
    "os.mkdir": (0,),
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
}
# Audit events that read the file system, with the positions of the paths they read.
READ_EVENTS: Mapping[str, tuple[int, ...]] = {
    "os.link": (0,),
    "os.listdir": (0,),
    "os.scandir": (0,),
}
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg"})
THREAD_EVENTS = frozenset({"_thread.start_new_thread"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Every event the Guard has a rule for. The hook sees every audit event, and matplotlib alone
# raises a hundred thousand `builtins.id` events drawing the deck's figures: the others return
# after one lookup.
WATCHED_EVENTS = (
    frozenset(
        PROCESS_EVENTS | NETWORK_EVENTS | SIGNAL_EVENTS | THREAD_EVENTS | {"os.chdir", "open"}
    )
    | frozenset(WRITE_EVENTS)
    | frozenset(READ_EVENTS)
)
MAX_DEPTH = 64  # of nested values sent back; deeper ones go as text
# How often a worker looks whether a job that closed its pipes has exited (it is exiting).
EXIT_POLL_S = 0.002

Send = Callable[[Mapping[str, Any]], None]


# --- the worker -------------------------------------------------------------------------------


def serve(kind: str) -> int:
    """Answer frames on stdin until it closes, running each job in a child of its own while
    reading the next: one worker of each kind serves every job the builder runs at once.
    Answers and the tests' own runs go to workers with numpy alone, which start and fork
    several times faster than those that draw."""
    if kind == "figures":
        warm_up()
    readable = readable_roots()
    # The builder stops a worker with SIGTERM: it then kills and reaps its jobs before it ends,
    # so that no job is left behind, not even as a zombie.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    # Frames go out on a descriptor of their own; anything printed goes to stderr instead.
    frames = os.dup(1)
    os.dup2(2, 1)
    # Everything imported so far moves out of the collector's sight: a child's collections
    # would otherwise walk (and so copy, page by page) the whole heap it shares with the worker.
    gc.freeze()
    write_frame(frames, {"ready": True})
    running: list[Job] = []
    try:
        while True:
            pipes = {fd: job for job in running for fd in job.open}
            now = time.monotonic()
            wait = min((job.deadline - now for job in running), default=None)
            if wait is not None and any(not job.open for job in running):
                wait = min(wait, EXIT_POLL_S)  # a job closed its pipes: it is exiting
            ready, _, _ = select.select([0, *pipes], [], [], None if wait is None else max(wait, 0))
            for fd in ready:
                if fd in pipes:
                    pipes[fd].read(fd)
            if 0 in ready:
                request = read_frame(0)
                if request is None:  # the builder has gone: so do its jobs (in `finally`)
                    return 0
                running.append(Job(request, readable))
            for job in [job for job in running if job.ended(time.monotonic())]:
                running.remove(job)
                write_frame(frames, job.answer())
    finally:
        for job in running:
            job.kill()


class Job:
    """One job's child, forked from the worker, and what it has sent so far."""

    def __init__(self, request: Mapping[str, Any], readable: Sequence[str]) -> None:
        caps = request["caps"]
        self.id = request["id"]
        self.deadline = time.monotonic() + caps["timeout"]
        self.late = f"timed out after {caps['timeout']:g} s"
        self.stopped: str | None = None
        self.status: int | None = None
        report_r, report_w = os.pipe()
        output_r, output_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            _child_process(request, readable, report_w, output_w)  # never returns
        os.close(report_w)
        os.close(output_w)
        # By descriptor: what the builder calls it, what came so far, its cap, why a flood stops.
        self.pipes: dict[int, tuple[str, bytearray, int, str]] = {
            report_r: (
                "report",
                bytearray(),
                caps["report_bytes"],
                f"sent more than {caps['report_bytes'] >> 20} MiB of results",
            ),
            output_r: (
                "output",
                bytearray(),
                caps["output_bytes"],
                f"printed more than {caps['output_bytes'] >> 10} KiB",
            ),
        }
        self.open = set(self.pipes)

    def read(self, fd: int) -> None:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            self.open.discard(fd)
            os.close(fd)
            return
        _, buffer, cap, flood = self.pipes[fd]
        buffer += chunk
        # Stopped at once rather than at the timeout: a flood is already a failure.
        if len(buffer) > cap and self.stopped is None:
            self.stopped = flood

    def ended(self, now: float) -> bool:
        """Whether the job is over: stopped (then killed here), or exited with its pipes closed."""
        if self.stopped is None and now >= self.deadline:
            self.stopped = self.late
        if self.stopped is not None:
            self.kill()
            return True
        if self.open:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.status = os.waitstatus_to_exitcode(status)
        return True

    def kill(self) -> None:
        """Kill and reap the child (if it is still there) and close what is left of its pipes."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        for fd in self.open:
            os.close(fd)
        self.open = set()

    def answer(self) -> dict[str, Any]:
        """The frame that tells the builder how the job ended, within the caps."""
        return {
            "id": self.id,
            **{
                name: base64.b64encode(bytes(buffer[:cap])).decode()
                for name, buffer, cap, _ in self.pipes.values()
            },
            "stopped": self.stopped,
            "status": self.status,
        }


def _child_process(
    request: Mapping[str, Any], readable: Sequence[str], report_w: int, output_w: int
) -> NoReturn:
    """The forked child: its descriptors set up, then the job (see `child`), then the end."""
    status = 70
    try:
        # Dies with the worker, whatever kills it (the worker is single-threaded).
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # numpy's global generator is seeded afresh, as an import in the child would: a child
        # does not start from its worker's (and its siblings') random state.
        np.random.seed()
        os.dup2(report_w, REPORT_FD)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        # The worker's frames, and its other jobs' pipes, are no business of this one.
        os.closerange(REPORT_FD + 1, 1 << 16)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        status = child(request, readable)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def warm_up() -> None:
    """Draw one throwaway figure, so that every child starts with matplotlib's fonts, glyphs,
    math parser and PNG writer loaded: once per worker rather than once per figure."""
    import matplotlib
    from matplotlib.figure import Figure as Canvas

    # One figure is enough: a second one left the same fonts, caches and modules loaded.
    matplotlib.rcdefaults()
    fig = Canvas(figsize=(3.6, 2.7), dpi=200, layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label=r"$\sigma(x) = \frac{1}{1 + e^{-x}}$")
    ax.bar([0.5], [0.5])
    ax.imshow(np.zeros((2, 2)), extent=(0, 0.2, 0, 0.2))
    ax.annotate("text", (0.5, 0.5), xytext=(0.2, 0.8), arrowprops={"arrowstyle": "->"})
    ax.set_title("warm-up", fontweight="bold")
    ax.legend()
    quantized(rendered(fig)[0], 256)
    matplotlib.rcdefaults()


def read_frame(fd: int) -> Any:
    head = read_exactly(fd, 8)
    if head is None:
        return None
    (size,) = struct.unpack(">Q", head)
    body = read_exactly(fd, size)
    return None if body is None else json.loads(body)


def read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def write_frame(fd: int, message: Any) -> None:
    body = json.dumps(message).encode()
    data = struct.pack(">Q", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


# --- the child: walls ---------------------------------------------------------------------------


def child(request: Mapping[str, Any], readable: Sequence[str]) -> int:
    def send(message: Mapping[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(REPORT_FD, data) :]

    rules = request["confine"]
    folder = request["folder"]
    os.chdir(folder)
    os.environ.clear()
    os.environ.update(rules["environment"])
    try:
        weaker = confine(rules, folder, readable)
    except (OSError, ValueError) as error:  # ValueError: a limit above what this user may set
        send({"refused": getattr(error, "strerror", None) or str(error)})
        return 1
    guard = Guard(
        folder,
        readable=(*readable, os.devnull),
        memory_mib=rules["memory_mib"],
        file_mib=rules["file_mib"],
    )
    sys.addaudithook(guard)
    refuse_threads(guard)
    if weaker:
        send({"weaker": weaker})
    ROLES[request["job"]["role"]](request["job"], guard, send)
    send({"finish": {}})
    return 0


class WallError(OSError):
    """A wall of the sandbox that could not be raised on this machine."""


def confine(rules: Mapping[str, Any], folder: str, readable: Sequence[str]) -> list[str]:
    """Raise every wall before any job code runs; the walls that had to be left out.

    Walls, so that a refusal does not rest on one mechanism: new network, IPC and mount
    namespaces; the folder a size-capped tmpfs without execute rights; an unprivileged user;
    no new privileges; Landlock (files outside `folder` and `readable`, TCP, signals to other
    processes); a seccomp filter (REFUSED_CALLS); resource limits; and the audit hook (`Guard`)
    that names what was refused. A wall that cannot be raised is a WallError, unless
    `rules["weaker"]` accepts the risk: then it is left out and named.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    missing: list[str] = []
    with open("/proc/self/status") as status:
        mapped = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) << 10

    def wall(name: str, raise_it: Callable[[], None]) -> None:
        try:
            raise_it()
        except OSError as error:
            if not rules["weaker"]:
                raise WallError(error.errno, f"{name}: {error.strerror or error}") from None
            missing.append(f"{name} ({error.strerror or error})")

    root = os.geteuid() == 0
    wall("namespaces", lambda: _namespaces(libc, root))
    wall("a size-capped job folder", lambda: _folder(libc, folder, rules["folder_mib"]))
    os.chdir(folder)  # into the new mount
    if root:
        _become(rules["uid"], readable, libc)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    wall("Landlock", lambda: _landlock(folder, readable, libc))
    wall("seccomp", _seccomp)
    _limits(rules, mapped)
    return missing


def _namespaces(libc: ctypes.CDLL, root: bool) -> None:
    """Own network (only a loopback, down), IPC and mount namespaces: nothing reachable, no
    IPC object that outlives the job. Without root, inside a user namespace of its own."""
    flags = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS
    if root:
        _check(libc.unshare(flags))
        return
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(flags | CLONE_NEWUSER))
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


def _folder(libc: ctypes.CDLL, folder: str, size_mib: int) -> None:
    """Mount a tmpfs of `size_mib` over the folder, without execute rights, private to the job."""
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None))
    owner = os.stat(folder)
    options = f"size={size_mib}m,mode=0700,uid={owner.st_uid},gid={owner.st_gid}".encode()
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _check(libc.mount(b"tmpfs", folder.encode(), b"tmpfs", flags, options))


def _seccomp() -> None:
    if pyseccomp is None:
        raise OSError(errno.ENOSYS, f"no seccomp filter ({NO_SECCOMP})")
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    refused = pyseccomp.ERRNO(errno.EPERM)
    for name in REFUSED_CALLS:
        rules.add_rule(refused, name)
    # Signals: only to itself.
    me = os.getpid()
    rules.add_rule(refused, "kill", pyseccomp.Arg(0, pyseccomp.NE, me))
    rules.add_rule(refused, "tgkill", pyseccomp.Arg(0, pyseccomp.NE, me))
    rules.add_rule(refused, "tkill", pyseccomp.Arg(0, pyseccomp.NE, me))
    rules.load()


def _limits(rules: Mapping[str, Any], mapped: int) -> None:
    """Resource limits; the address space counted on top of the `mapped` bytes the warm worker
    had when the job began."""
    mib = 1 << 20
    for limit, value in (
        (resource.RLIMIT_AS, mapped + rules["memory_mib"] * mib),
        (resource.RLIMIT_FSIZE, rules["file_mib"] * mib),
        # Zero processes for this user: fork, spawn and even new threads fail in the kernel.
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    cpu = rules["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def readable_roots() -> tuple[str, ...]:
    """What a job may read besides its folder: the Python installation, its packages and the
    fonts matplotlib found, less anything of this project (an editable install puts the project
    folder itself on the path)."""
    project = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    fonts = set()
    if "matplotlib.font_manager" in sys.modules:  # a worker that draws
        from matplotlib.font_manager import fontManager

        fonts = {os.path.dirname(font.fname) for font in fontManager.ttflist}
    roots = []
    for entry in [*sys.path, *sorted(fonts)]:
        real = os.path.realpath(entry or ".")
        if os.path.exists(real) and not _within(project, real):
            roots.append(real)
    return tuple(dict.fromkeys(roots))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _become(uid: int, readable: Sequence[str], libc: ctypes.CDLL) -> None:
    """Switch from root to `uid`, keeping at most the right to read files and search folders.

    That right is kept only when the interpreter is installed where `uid` cannot look (pyenv
    under a 0700 /root), since a job imports modules after this point; Landlock then limits
    it to `readable`. Writing, signalling other users' processes and starting processes remain
    refused.
    """
    _check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    header = _CapHeader(CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = 1 << CAP_DAC_READ_SEARCH
    _check(libc.capset(ctypes.byref(header), data))
    # access() answers for the real user without capabilities: whether `uid` alone may read.
    if all(os.access(path, os.R_OK) for path in readable):
        _check(libc.capset(ctypes.byref(header), (_CapData * 2)()))


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _landlock(folder: str, readable: Sequence[str], libc: ctypes.CDLL) -> None:
    """Have the kernel refuse file access outside `folder` (everything but executing) and
    `readable` (reading only), TCP, and signals to any process outside this one."""
    abi = int(libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        raise OSError(errno.ENOSYS, "this kernel has no Landlock")
    rights = next(mask for since, mask in FS_RIGHTS_SINCE if abi >= since)
    attr = _RulesetAttr(rights, NET_TCP if abi >= 4 else 0, SCOPES if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else 16 if abi >= 4 else 8  # what this ABI reads
    ruleset = int(libc.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0))
    _check(min(ruleset, 0))
    try:
        device = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
        rules = [(folder, rights & ~FS_EXECUTE), (os.devnull, device)]
        rules += [(path, FS_READ_FILE | FS_READ_DIR) for path in readable]
        for path, allowed in rules:
            handle = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                allowed &= rights
                if not os.path.isdir(path):
                    allowed &= FILE_RIGHTS  # a rule on a file grants only rights on files
                rule = _PathBeneath(allowed, handle)
                _check(
                    libc.syscall(
                        LANDLOCK_ADD_RULE,
                        ruleset,
                        LANDLOCK_RULE_PATH_BENEATH,
                        ctypes.byref(rule),
                        0,
                    )
                )
            finally:
                os.close(handle)
        _check(libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0))
    finally:
        os.close(ruleset)


def _check(status: int) -> None:
    if status != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


class Attempt(NamedTuple):
    """What happened when a piece of job code ran."""

    value: Any = None
    error: BaseException | None = None
    broke: str | None = None  # the sandbox rule or limit it broke, in words


class Guard:
    """An audit hook that refuses what a job must not do, and remembers that it tried.

    The refusal is an exception, which the job could catch; remembering it means a caught
    refusal still fails the step. The kernel's walls hold without it: it only names things.
    """

    def __init__(
        self, folder: str, *, readable: Sequence[str], memory_mib: int, file_mib: int
    ) -> None:
        self.folder = os.path.realpath(folder)
        self.readable = tuple(readable)  # besides the folder: files, and folders with all below
        self.pid = os.getpid()
        self.memory_mib = memory_mib
        self.file_mib = file_mib
        self.broke: str | None = None

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in WATCHED_EVENTS:
            return
        rule = self._rule(event, args)
        if rule is not None:
            self.broke = self.broke or f"{rule} ({event})"
            raise PermissionError(errno.EPERM, f"not allowed in the sandbox: {rule}")

    def run(self, work: Callable[[], Any]) -> Attempt:
        """Run job code, catching everything it raises and every rule it breaks."""
        self.broke = None
        try:
            value = work()
        except MemoryError as error:
            memory = f"exceeded the memory limit of {self.memory_mib} MiB"
            return Attempt(error=error, broke=self.broke or memory)
        except BaseException as error:
            broke = self.broke
            if broke is None and isinstance(error, OSError) and error.errno == errno.EFBIG:
                broke = f"wrote a file larger than {self.file_mib} MiB"
            if broke is None and isinstance(error, OSError) and error.errno == errno.ENOSPC:
                broke = "filled its folder"
            return Attempt(error=error, broke=broke)
        return Attempt(value=value, broke=self.broke)

    def _rule(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event in PROCESS_EVENTS:
            return "tried to start a process"
        if event in THREAD_EVENTS:
            return "tried to start a thread"
        if event in NETWORK_EVENTS:
            return "tried to open a network connection"
        if event in SIGNAL_EVENTS and args[0] != self.pid:
            return "tried to signal another process"
        if event == "os.chdir" and not (_is_path(args[0]) and self._inside(args[0])):
            return "tried to change to a folder outside its own"
        if event == "open":
            writing = args[2] & WRITE_FLAGS
            reads: tuple[Any, ...] = () if writing else (args[0],)
            writes: tuple[Any, ...] = (args[0],) if writing else ()
        else:
            reads = tuple(args[i] for i in READ_EVENTS.get(event, ()))
            writes = tuple(args[i] for i in WRITE_EVENTS.get(event, ()))
        if not all(self._inside(path) for path in writes):
            return "tried to write outside its folder"
        if not all(self._inside(path) or self._readable(path) for path in reads):
            return "tried to read outside its folder"
        return None

    def _inside(self, path: Any) -> bool:
        if not _is_path(path):
            return True  # a file descriptor: checked when it was opened
        real = os.path.realpath(os.fsdecode(path))
        return real == os.devnull or _within(real, self.folder)

    def _readable(self, path: Any) -> bool:
        real = os.path.realpath(os.fsdecode(path))
        return any(_within(real, root) for root in self.readable)


def _is_path(value: Any) -> bool:
    return isinstance(value, str | bytes | os.PathLike)


def refuse_threads(guard: Guard) -> None:
    """Make starting a thread a refusal that the report names.

    Python 3.11 raises no audit event for it, and the kernel refuses the thread anyway, but
    with an error that does not say why.
    """

    def refused(*args: Any, **kwargs: Any) -> int:
        guard("_thread.start_new_thread", args)
        raise AssertionError("unreachable: the guard refuses every thread")

    _thread.start_new_thread = refused
    threading._start_new_thread = refused  # type: ignore[attr-defined]


# --- the child: jobs ----------------------------------------------------------------------------


def run_answer(job: Mapping[str, Any], guard: Guard, send: Send) -> None:
    """Load the answer and setup, then run every case and property trial, reporting each value."""
    call: str | None = job["call"]
    answer: dict[str, Any] = {"__name__": "answer", "__builtins__": builtins}

    def load() -> None:
        execute(job["code"], "<code>", answer)
        if call is not None and not callable(answer.get(call)):
            raise NameError(f"the code defines no function named {call}")

    if not step(send, {"step": "code"}, guard, load):
        return
    namespace = {"np": np, **answer}
    if job["setup"]:
        setup = partial(execute, job["setup"], "<setup>", namespace)
        if not step(send, {"step": "setup"}, guard, setup):
            return
    for index, case in enumerate(job["cases"]):
        where = {"step": "case", "index": index}
        send({"start": where})
        if case["expr"] is not None:
            attempt = guard.run(partial(evaluate, case["expr"], "<expr>", namespace))
            send({"end": {**where, "result": result(attempt)}})
            continue
        if call is None:
            send({"end": {**where, "result": None}})
            continue
        built = guard.run(partial(decode_arguments, case["args"], case["kwargs"]))
        if built.error is not None or built.broke is not None:
            send({"end": {**where, "inputs": failed(built)}})
            continue
        args, kwargs = built.value
        # Shown before the call: the answer may change its inputs in place.
        shown = describe_call(call, args, kwargs)
        attempt = guard.run(partial(namespace[call], *args, **kwargs))
        send({"end": {**where, "call": shown, "result": result(attempt)}})
    for index, prop in enumerate(job["properties"]):
        where = {"step": "property", "index": index}
        send({"start": where})
        made = guard.run(partial(define, prop["inputs"], "inputs", namespace))
        if made.error is not None or made.broke is not None or call is None:
            send({"end": {**where, "result": failed(made) if call else None}})
            continue
        for trial in range(prop["trials"]):
            drawn = guard.run(partial(made.value, np.random.default_rng(trial)))
            if drawn.error is not None or drawn.broke is not None:
                send({"end": {**where, "trial": trial, "inputs": failed(drawn)}})
                break
            args = drawn.value if isinstance(drawn.value, tuple) else (drawn.value,)
            attempt = guard.run(partial(namespace[call], *args))
            send({"end": {**where, "trial": trial, "result": result(attempt)}})
        else:
            send({"end": {**where}})


def run_reference(job: Mapping[str, Any], guard: Guard, send: Send) -> None:
    """The tests' own values, computed without the answer: `{py: ...}` expectations and each
    property's inputs and reference outputs."""
    namespace: dict[str, Any] = {"np": np, "__builtins__": builtins}
    if job["setup"]:
        # The setup may name the answer's functions in the bodies of its own; it must not call
        # them while it is defined, since the reference never sees the answer.
        setup = partial(execute, job["setup"], "<setup>", namespace)
        if not step(send, {"step": "setup"}, guard, setup):
            return
    for index, source in enumerate(job["values"]):
        where = {"step": "value", "index": index}
        send({"start": where})
        attempt = guard.run(partial(evaluate, source, "<py>", {"np": np}))
        send({"end": {**where, "result": result(attempt)}})
    for index, prop in enumerate(job["properties"]):
        where = {"step": "property", "index": index}
        send({"start": where})
        inputs = guard.run(partial(define, prop["inputs"], "inputs", namespace))
        reference = guard.run(partial(define, prop["reference"], "reference", namespace))
        for made in (inputs, reference):
            if made.error is not None or made.broke is not None:
                send({"end": {**where, "result": failed(made)}})
                break
        else:
            for trial in range(prop["trials"]):
                drawn = guard.run(partial(inputs.value, np.random.default_rng(trial)))
                if drawn.error is not None or drawn.broke is not None:
                    send({"end": {**where, "trial": trial, "inputs": failed(drawn)}})
                    break
                args = drawn.value if isinstance(drawn.value, tuple) else (drawn.value,)
                # As data, taken before the reference runs: the builder shows the arguments of
                # a failing trial only (showing every trial's took a seventh of verifying, #19).
                wired = wire(args)
                attempt = guard.run(partial(reference.value, *copy.deepcopy(args)))
                message = {**where, "trial": trial, "args": wired, "result": result(attempt)}
                send({"end": message})
            else:
                send({"end": {**where}})


def run_figure(job: Mapping[str, Any], guard: Guard, send: Send) -> None:
    """Draw both variants of one script; the PNGs go back on the report."""
    where = {"step": "figure", "index": 0}
    send({"start": where})
    attempt = guard.run(partial(draw_figure, job))
    if attempt.error is not None or attempt.broke is not None:
        send({"end": {**where, "result": failed(attempt)}})
        return
    pngs = {variant: base64.b64encode(png).decode() for variant, png in attempt.value.items()}
    send({"end": {**where, "result": {"value": pngs}}})


def draw_figure(job: Mapping[str, Any]) -> dict[str, bytes]:
    import matplotlib
    from matplotlib.figure import Figure as Canvas

    sys.meta_path.insert(0, _Sources(job["modules"]))
    code = {}
    for note_id, source in job["code"].items():
        module = types.ModuleType(note_id.replace("-", "_"))
        filename = f"<code of note {note_id}>"
        exec(compile_author(source, filename, "exec"), module.__dict__)
        code[note_id] = module
    script = types.ModuleType(f"figure_{job['name']}")
    script.__file__ = job["script"]["name"]
    exec(compile_author(job["script"]["source"], job["script"]["name"], "exec"), script.__dict__)
    if not callable(getattr(script, "draw", None)):
        raise TypeError(f"{job['name']}.py defines no function draw(fig, variant, code)")
    width, dpi = job["width_in"], job["dpi"]
    height = float(getattr(script, "HEIGHT", job["height_in"]))
    pngs = {}
    renderer: RendererAgg | None = None
    for variant in job["variants"]:
        matplotlib.rcdefaults()
        fig = Canvas(figsize=(width, height), dpi=dpi, layout="constrained")
        script.draw(fig, variant, types.MappingProxyType(code))
        if tuple(fig.get_size_inches()) != (width, height):
            raise ValueError(f"{job['name']}.py changed the figure size; set HEIGHT instead")
        picture, renderer = rendered(fig, renderer)
        pngs[variant] = quantized(picture, job["colors"])
    return pngs


def rendered(fig: Figure, renderer: RendererAgg | None = None) -> tuple[np.ndarray, RendererAgg]:
    """The figure's pixels (height x width x RGBA, 8 bits each), drawn once by Agg at the
    figure's own dpi, and the renderer that drew them, to pass back in for the next variant of
    the same figure. The pixels are the renderer's own: to be used before it draws again.

    With a layout engine, `savefig` draws a figure twice (a dry run for the layout, then the
    real one); drawing once on the canvas gives the same pixels (compared for every figure of
    the deck) in a fifth less time. matplotlib caches text sizes and parsed math per renderer,
    and the variants of a figure differ in colours, not in text: on one renderer the second
    variant measures and parses nothing again, its layout included (a tenth of drawing, #19).
    The renderer holds nothing else between draws: each draw starts by clearing its pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # matplotlib's Agg canvas is unannotated.
    canvas = FigureCanvasAgg(fig)
    if renderer is not None:
        # What `get_renderer` makes for a canvas of this size and dpi, and keeps while neither
        # changes: drawing on it is drawing on a fresh one.
        canvas.renderer, canvas._lastKey = renderer, (renderer.width, renderer.height, fig.dpi)
    canvas.draw()  # type: ignore[no-untyped-call]
    pixels = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    return pixels, canvas.renderer


class _Sources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the project's figure modules from the sources the parent sent: the job cannot
    read the figures folder."""

    def __init__(self, modules: Mapping[str, Mapping[str, str]]) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        return importlib.machinery.ModuleSpec(name, self, origin=self.modules[name]["name"])

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        found = self.modules[module.__name__]
        module.__file__ = found["name"]
        exec(compile_author(found["source"], found["name"], "exec"), module.__dict__)


def quantized(picture: np.ndarray, colors: int) -> bytes:
    """The picture as a PNG of at most `colors` colours (its alpha dropped) and no metadata chunks.

    A figure is mostly flat colours (background, fills, text) and the blends that smooth their
    edges. When it has at most `colors` colours, each is kept exactly. Otherwise the commonest
    quarter of the palette is kept exactly, and each further entry is the colour the palette so
    far serves worst: its pixels times their squared distance to their nearest entry. Every
    pixel then gets its nearest entry. Against Pillow's median cut, on the deck's figures, this
    leaves an eighth of the squared error, no pixel moved half as far, and takes under a third of
    the time, which a cold build feels: quantizing was the largest part of drawing after
    matplotlib (#19).
    """
    from PIL import Image

    height, width = picture.shape[:2]
    # One number a pixel, alpha set to opaque: red is the low byte whatever the machine.
    keys = picture.reshape(-1).view("<u4") | np.uint32(0xFF000000)
    # A figure is mostly runs of one colour along its rows (background, fills, strokes): only
    # the first pixel of each run is sorted, a twentieth of the pixels on the deck's figures
    # (a ninth at most), which took a third off quantizing them, with the same bytes (#19).
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    lengths = np.diff(np.append(starts, keys.size))
    heads = keys[starts]
    # The first pixel's colour (the background, in practice) is entry 0, the others follow in
    # order of their value.
    others = heads != heads[0]
    found, where = np.unique(heads[others], return_inverse=True)
    found = np.concatenate([heads[:1], found]).astype("<u4")
    colour_of_run = np.zeros(heads.size, np.intp)
    colour_of_run[others] = where.reshape(-1) + 1
    counts = np.bincount(colour_of_run, weights=lengths)  # exact: far below 2^53
    rgb = found.view(np.uint8).reshape(-1, 4)[:, :3].astype(np.float64)
    commonest = np.argsort(-counts, kind="stable")
    if found.size <= colors:
        entries = list(commonest)
    else:
        entries = list(commonest[: max(1, colors // 4)])
        _, distance = _nearest(rgb, rgb[entries])
        squares = (rgb**2).sum(axis=1)
        while len(entries) < colors:
            worst = int(np.argmax(counts * distance))
            entries.append(worst)
            # Expanded as in `_nearest`, exact too: a fifth of the time of the differences.
            np.minimum(distance, squares - 2 * (rgb @ rgb[worst]) + squares[worst], out=distance)
    palette = rgb[entries]
    nearest = _nearest(rgb, palette)[0].astype(np.uint8)  # at most 256 entries: one byte
    index = np.repeat(nearest[colour_of_run], lengths)
    image = Image.frombuffer("P", (width, height), index.tobytes(), "raw", "P", 0, 1)
    image.putpalette(palette.astype(np.uint8).tobytes())
    out = io.BytesIO()
    # zlib's default level: level 9 (Pillow's `optimize`) makes files 10 % smaller and takes
    # eight times as long, which a cold build of the deck feels (#19).
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _nearest(rgb: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each colour, its nearest palette entry (the first of equals) and the squared distance.

    |a - b|^2 = |a|^2 - 2 a.b + |b|^2, in blocks of rows to bound the memory: every term is an
    integer far below 2^53, so the distances, and the choices, are exact on every machine."""
    index = np.empty(len(rgb), np.intp)
    distance = np.empty(len(rgb))
    squares = (palette**2).sum(axis=1)
    for start in range(0, len(rgb), 1024):
        block = rgb[start : start + 1024]
        table = (block**2).sum(axis=1)[:, None] - 2 * block @ palette.T + squares[None, :]
        index[start : start + len(block)] = table.argmin(axis=1)
        distance[start : start + len(block)] = table.min(axis=1)
    return index, distance


ROLES: Mapping[str, Callable[[Mapping[str, Any], Guard, Send], None]] = {
    "answer": run_answer,
    "reference": run_reference,
    "figure": run_figure,
}


def step(send: Send, where: Mapping[str, Any], guard: Guard, work: Callable[[], Any]) -> bool:
    where = {"index": 0, **where}
    send({"start": where})
    attempt = guard.run(work)
    ok = attempt.error is None and attempt.broke is None
    send({"end": {**where, "result": None if ok else failed(attempt)}})
    return ok


def execute(source: str, filename: str, namespace: dict[str, Any]) -> None:
    exec(compile_author(source, filename, "exec"), namespace)


def evaluate(source: str, filename: str, namespace: dict[str, Any]) -> Any:
    return eval(compile_author(source, filename, "eval"), namespace)


def compile_author(source: str, filename: str, mode: str) -> Any:
    # Registered so that tracebacks show the author's lines, not just their numbers.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, mode)


def define(source: str, name: str, namespace: dict[str, Any]) -> Any:
    scope = dict(namespace)
    execute(source, f"<{name}>", scope)
    if not callable(scope.get(name)):
        raise NameError(f"the property's `{name}` must define a function named {name}")
    return scope[name]


def decode(raw: Any) -> Any:
    """A value from the test as the answer receives it (docs/source-format.md, "Code notes")."""
    if isinstance(raw, list):
        return np.asarray(raw)
    if isinstance(raw, dict):
        if raw.keys() == {"py"}:
            return evaluate(raw["py"], "<py>", {"np": np})
        if "array" in raw and raw.keys() <= {"array", "dtype"}:
            return np.asarray(raw["array"], dtype=raw.get("dtype"))
        return {key: decode(value) for key, value in raw.items()}
    return raw


def decode_arguments(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    return [decode(arg) for arg in args], {key: decode(value) for key, value in kwargs.items()}


# --- what goes back -----------------------------------------------------------------------------


def result(attempt: Attempt) -> dict[str, Any]:
    if attempt.error is not None or attempt.broke is not None:
        return failed(attempt)
    return {"value": wire(attempt.value)}


def failed(attempt: Attempt) -> dict[str, Any]:
    error = attempt.error
    types_ = []
    if error is not None:
        for cls in type(error).__mro__:
            types_ += [cls.__name__, f"{cls.__module__}.{cls.__qualname__}"]
    text = format_error(error) if error is not None else None
    return {"error": {"types": types_, "text": text, "broke": attempt.broke}}


def wire(value: Any, depth: int = 0) -> Any:
    """`value` in the data format the parent reads (`builder.judge.unwire`): JSON with tagged
    arrays, tuples and the like; anything else as its text, which never equals an expectation."""
    if depth > MAX_DEPTH:
        return {"text": {"type": type(value).__name__, "repr": show(value)}}
    # First: numpy's float64 is also a Python float.
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biufcUS":
        array = np.asarray(value)  # tobytes() below is in C order whatever its layout
        data = base64.b64encode(array.tobytes()).decode()
        kind = "array" if isinstance(value, np.ndarray) else "scalar"
        return {kind: {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, complex):
        return {"complex": [repr(value.real), repr(value.imag)]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [wire(item, depth + 1) for item in value]}
    if isinstance(value, set | frozenset):
        return {type(value).__name__: [wire(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[wire(k, depth + 1), wire(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.dtype == object:
        items = [wire(item, depth + 1) for item in value.ravel().tolist()]
        return {"objects": {"shape": list(value.shape), "items": items}}
    return {"text": {"type": type(value).__name__, "repr": show(value)}}


def format_error(error: BaseException) -> str:
    """The exception with the frames of job and library code, not those of this harness."""
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__
    ]
    lines = ["Traceback (most recent call last):"] if frames else []
    lines += "".join(traceback.format_list(frames)).splitlines()
    lines += "".join(traceback.format_exception_only(type(error), error)).splitlines()
    return "\n".join(lines)


def describe_call(call: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    parts = [show(arg) for arg in args] + [f"{key}={show(value)}" for key, value in kwargs.items()]
    return f"{call}({', '.join(parts)})"


def show(value: Any, limit: int = 400) -> str:
    """An abbreviated repr: long arrays elided numpy-style, long text cut."""
    try:
        with np.printoptions(threshold=24, edgeitems=3, linewidth=88, precision=8):
            text = repr(value)
    except Exception:
        text = f"<a {type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[:limit] + " ..."


if __name__ == "__main__":
    try:
        status = serve(sys.argv[1])
    except SystemExit as stopped:  # SIGTERM: the builder stops the worker
        status = stopped.code if isinstance(stopped.code, int) else 0
    # Its jobs are reaped (in `serve`) and its frames written: nothing is left to tidy, and
    # Python's own ending (freeing every module and font matplotlib loaded) took as long as
    # everything else of stopping the workers at the end of a build (#19).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
