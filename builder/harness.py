"""Runs one code answer against its numpy cases and properties, inside the sandbox.

`builder.sandbox` executes this file as a script in a fresh interpreter:

    python -I -B harness.py FD

It reads a JSON request on stdin, `{"confine": {memory_mib, file_mib, cpu_seconds, uid},
"job": {code, call, setup, rtol, atol, cases, properties}}`, confines itself, then writes JSON
lines to file descriptor FD:

    {"start": {"step": "code" | "setup" | "case" | "property", "index": i}}
    {"end": {"step": ..., "index": i, "failure": [report lines] | null}}
    {"finish": {"numpy": "2.4.6"}}  or  {"finish": {"error": "why nothing could run"}}

so that a run stopped from outside still tells which step it was in and what failed before.
It imports only the standard library and numpy, and once confined it can read nothing but its
folder and the Python installation: no `builder` module (nor any project file) is readable.
"""

from __future__ import annotations

import _thread
import builtins
import copy
import ctypes
import errno
import json
import linecache
import numbers
import os
import resource
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

CLONE_NEWNET = 0x40000000
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

PROCESS_EVENTS = frozenset(
    {"os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.system", "pty.spawn"}
    | {"subprocess.Popen"}
)
NETWORK_EVENTS = frozenset(
    {"socket.bind", "socket.connect", "socket.sendmsg", "socket.sendto"}
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

LABEL_WIDTH = len("reference: ")

Send = Callable[[Mapping[str, Any]], None]


def main(argv: Sequence[str]) -> int:
    channel = int(argv[1])

    def send(message: Mapping[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(channel, data) :]

    request = json.loads(sys.stdin.buffer.read())
    rules = request["confine"]
    folder = os.path.realpath(os.getcwd())
    readable = readable_roots()
    try:
        confine(rules, folder, readable)
    except (OSError, ValueError) as error:  # ValueError: a limit above what this user may set
        send({"finish": {"error": f"could not confine the answer: {error}"}})
        return 1
    guard = Guard(
        folder,
        readable=(*readable, os.path.realpath(__file__), os.devnull),
        memory_mib=rules["memory_mib"],
        file_mib=rules["file_mib"],
    )
    sys.addaudithook(guard)
    refuse_threads(guard)
    run_job(request["job"], guard, send)
    send({"finish": {"numpy": np.__version__}})
    return 0


# --- confinement -----------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def confine(rules: Mapping[str, int], folder: str, readable: Sequence[str]) -> None:
    """Limit this process before any author code runs.

    Several layers, so that a refusal does not rest on one mechanism: resource limits, a network
    namespace of its own, an unprivileged user when started as root, no new privileges on exec,
    and Landlock where the kernel has it (files outside `folder` and `readable`, TCP, signals to
    other processes); the audit hook (`Guard`) adds refusals a person can read on top.
    """
    mib = 1 << 20
    for limit, value in (
        (resource.RLIMIT_AS, rules["memory_mib"] * mib),
        (resource.RLIMIT_FSIZE, rules["file_mib"] * mib),
        # Zero processes for this user: fork, spawn and even new threads fail in the kernel.
        # Root ignores it, which is why the user changes below.
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
    cpu = rules["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    libc = ctypes.CDLL(None, use_errno=True)
    # A new network namespace has only a loopback interface, and it is down: nothing is
    # reachable, not even the host's 127.0.0.1. It needs root; where it is not permitted the
    # audit hook alone refuses network use.
    libc.unshare(CLONE_NEWNET)
    if os.geteuid() == 0:
        _become(rules["uid"], readable, libc)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    _landlock(folder, readable, libc)


def readable_roots() -> tuple[str, ...]:
    """What an answer may read besides its folder: the Python installation and its packages.

    That is `sys.path` (the standard library and site-packages), less any entry that holds this
    builder: an editable install may put the project folder itself on the path.
    """
    project = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    roots = []
    for entry in sys.path:
        real = os.path.realpath(entry or ".")
        if os.path.exists(real) and not _within(project, real):
            roots.append(real)
    return tuple(dict.fromkeys(roots))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _become(uid: int, readable: Sequence[str], libc: ctypes.CDLL) -> None:
    """Switch from root to `uid`, keeping at most the right to read files and search folders.

    That right is kept only when the interpreter is installed where `uid` cannot look (pyenv
    under a 0700 /root), since an answer imports modules after this point; Landlock then limits
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
    """Have the kernel refuse file access outside `folder` (which allows everything) and
    `readable` (reading only), TCP, and signals to any process outside this one.

    Unlike the audit hook, this holds against code that calls libc directly. Where the kernel
    has no Landlock it does nothing, and the audit hook refuses alone.
    """
    abi = int(libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        return
    rights = next(mask for since, mask in FS_RIGHTS_SINCE if abi >= since)
    attr = _RulesetAttr(rights, NET_TCP if abi >= 4 else 0, SCOPES if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else 16 if abi >= 4 else 8  # what this ABI reads
    ruleset = int(libc.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0))
    _check(min(ruleset, 0))
    try:
        here = os.path.realpath(__file__)
        device = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
        rules = [(folder, rights), (here, FS_READ_FILE), (os.devnull, device)]
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
    """What happened when a piece of author code ran."""

    value: Any = None
    error: BaseException | None = None
    broke: str | None = None  # the sandbox rule or limit it broke, in words


class Guard:
    """An audit hook that refuses what an answer must not do, and remembers that it tried.

    The refusal is an exception, which the answer could catch; remembering it means a caught
    refusal still fails the step.
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
        rule = self._rule(event, args)
        if rule is not None:
            self.broke = self.broke or f"{rule} ({event})"
            raise PermissionError(errno.EPERM, f"not allowed while verifying an answer: {rule}")

    def run(self, work: Callable[[], Any]) -> Attempt:
        """Run author code, catching everything it raises and every rule it breaks."""
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

    Python 3.11 raises no audit event for it, and the kernel refuses the thread anyway (the
    process limit is zero), but with an error that does not say why.
    """

    def refused(*args: Any, **kwargs: Any) -> int:
        guard("_thread.start_new_thread", args)
        raise AssertionError("unreachable: the guard refuses every thread")

    _thread.start_new_thread = refused
    threading._start_new_thread = refused  # type: ignore[attr-defined]


# --- running the job -------------------------------------------------------------------------


def run_job(job: Mapping[str, Any], guard: Guard, send: Send) -> None:
    """Load the answer and setup, then run every case and property, reporting each step."""
    call: str | None = job["call"]
    answer: dict[str, Any] = {"__name__": "answer", "__builtins__": builtins}

    def load() -> list[str] | None:
        problem = trouble(guard.run(partial(execute, job["code"], "<code>", answer)))
        if problem:
            return problem
        if call is not None and not callable(answer.get(call)):
            return field("missing", f"the code defines no function named {call}")
        return None

    if not step(send, {"step": "code"}, load):
        return
    namespace = {"np": np, **answer}
    if job["setup"]:
        setup = partial(execute, job["setup"], "<setup>", namespace)
        if not step(send, {"step": "setup"}, lambda: trouble(guard.run(setup)) or None):
            return
    defaults = (job["rtol"], job["atol"])
    for index, case in enumerate(job["cases"]):
        work = partial(run_case, case, namespace, call, defaults, guard)
        step(send, {"step": "case", "index": index}, work)
    for index, prop in enumerate(job["properties"]):
        work = partial(run_property, prop, namespace, call, defaults, guard)
        step(send, {"step": "property", "index": index}, work)


def step(send: Send, what: Mapping[str, Any], work: Callable[[], list[str] | None]) -> bool:
    send({"start": what})
    failure = work()
    send({"end": {**what, "failure": failure}})
    return failure is None


def run_case(
    case: Mapping[str, Any],
    namespace: dict[str, Any],
    call: str | None,
    defaults: tuple[float, float],
    guard: Guard,
) -> list[str] | None:
    """None if the case passes, else the lines that say why not."""
    rtol, atol = tolerances(case, defaults)
    if case["expr"] is not None:
        shown = field("expr", case["expr"])
        work = partial(evaluate, case["expr"], "<expr>", namespace)
    else:
        if call is None:
            return field("missing", "the case has 'args' but the tests name no 'call'")
        built = guard.run(partial(decode_arguments, case["args"], case["kwargs"]))
        if trouble(built):
            return field("inputs", "could not be built from the test") + trouble(built)
        args, kwargs = built.value
        # Shown before the call: the answer may change its inputs in place.
        shown = field("call", describe_call(call, args, kwargs))
        work = partial(namespace[call], *args, **kwargs)
    got = guard.run(work)
    if got.broke is not None:
        return shown + trouble(got)
    if case["raises"] is not None:
        if got.error is not None and raised_as(got.error, case["raises"]):
            return None
        outcome = trouble(got) if got.error else field("actual", f"returned {show(got.value)}")
        return shown + field("expected", f"raises {case['raises']}") + outcome
    if got.error is not None:
        return shown + field("expected", show(case["expect"])) + trouble(got)
    compared = guard.run(partial(compare, got.value, case["expect"], rtol, atol))
    if trouble(compared):
        return shown + field("expected", "could not be built from the test") + trouble(compared)
    differences: list[str]
    expected, differences = compared.value
    if not differences:
        return None
    return (
        shown + field("expected", show(expected)) + field("actual", show(got.value)) + differences
    )


def run_property(
    prop: Mapping[str, Any],
    namespace: dict[str, Any],
    call: str | None,
    defaults: tuple[float, float],
    guard: Guard,
) -> list[str] | None:
    """None if the answer agrees with the reference on every trial, else why not (first trial)."""
    if call is None:
        return field("missing", "a property needs the tests to name a 'call'")
    rtol, atol = tolerances(prop, defaults)
    made = guard.run(partial(define_property, prop, namespace))
    if trouble(made):
        return trouble(made)
    inputs, reference = made.value
    trials = prop["trials"]
    for trial in range(trials):
        shown = field(
            "trial", f"{trial + 1} of {trials}, inputs drawn with np.random.default_rng({trial})"
        )
        drawn = guard.run(partial(inputs, np.random.default_rng(trial)))
        if trouble(drawn):
            return shown + field("inputs", "could not be drawn") + trouble(drawn)
        args = drawn.value if isinstance(drawn.value, tuple) else (drawn.value,)
        shown += field("inputs", show(args))
        expected = guard.run(partial(reference, *copy.deepcopy(args)))
        if trouble(expected):
            return shown + field("reference", "failed") + trouble(expected)
        shown += field("reference", show(expected.value))
        got = guard.run(partial(namespace[call], *args))
        if trouble(got):
            return shown + trouble(got)
        differences = compare_values(got.value, expected.value, rtol, atol)
        if differences:
            return shown + field("actual", show(got.value)) + differences
    return None


def tolerances(item: Mapping[str, Any], defaults: tuple[float, float]) -> tuple[float, float]:
    rtol, atol = item.get("rtol"), item.get("atol")
    return (defaults[0] if rtol is None else rtol, defaults[1] if atol is None else atol)


def execute(source: str, filename: str, namespace: dict[str, Any]) -> None:
    exec(compile_author(source, filename, "exec"), namespace)


def evaluate(source: str, filename: str, namespace: dict[str, Any]) -> Any:
    return eval(compile_author(source, filename, "eval"), namespace)


def compile_author(source: str, filename: str, mode: str) -> Any:
    # Registered so that tracebacks show the author's lines, not just their numbers.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, mode)


def define_property(prop: Mapping[str, Any], namespace: dict[str, Any]) -> tuple[Any, Any]:
    functions = []
    for name in ("inputs", "reference"):
        scope = dict(namespace)
        execute(prop[name], f"<{name}>", scope)
        if not callable(scope.get(name)):
            raise NameError(f"the property's `{name}` must define a function named {name}")
        functions.append(scope[name])
    return functions[0], functions[1]


def raised_as(error: BaseException, name: str) -> bool:
    """Whether `error` is an instance of a class called `name` (plain or module-qualified)."""
    return any(
        name in (cls.__name__, f"{cls.__module__}.{cls.__qualname__}")
        for cls in type(error).__mro__
    )


# --- values ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Exact:
    """An expected array whose dtype is part of the expectation (`{array, dtype}`)."""

    array: np.ndarray[Any, Any]

    def __repr__(self) -> str:
        return repr(self.array)


def expected_for(actual: Any, raw: Any) -> Any:
    """The expected value decoded for this result: against a tuple, a list's items one by one."""
    if isinstance(actual, tuple) and isinstance(raw, list):
        return tuple(expected_for(None, item) for item in raw)
    value = decode(raw)
    if isinstance(raw, dict) and "dtype" in raw and isinstance(value, np.ndarray):
        return Exact(value)
    return value


def compare(actual: Any, raw: Any, rtol: float, atol: float) -> tuple[Any, list[str]]:
    """The decoded expected value, and how `actual` differs from it (empty if it matches)."""
    expected = expected_for(actual, raw)
    return expected, compare_values(actual, expected, rtol, atol)


def compare_values(actual: Any, expected: Any, rtol: float, atol: float) -> list[str]:
    if isinstance(expected, tuple | list):
        if not isinstance(actual, tuple | list):
            return [f"expected {len(expected)} items, got {kind(actual)}"]
        if len(actual) != len(expected):
            return [f"returned {len(actual)} items, expected {len(expected)}"]
        return [
            f"item {index}: {line}"
            for index, (got, want) in enumerate(zip(actual, expected, strict=True))
            for line in compare_values(got, want, rtol, atol)
        ]
    if isinstance(expected, Exact):
        dtype = expected.array.dtype
        if not isinstance(actual, np.ndarray | np.generic):
            return [f"expected an array of dtype {dtype}, got {kind(actual)}"]
        if actual.dtype != dtype:
            return [f"dtype {actual.dtype} is not the expected {dtype}"]
        expected = expected.array
    if isinstance(expected, np.ndarray):
        return compare_arrays(actual, expected, rtol, atol)
    if is_number(expected):
        if not is_number(actual):
            return [f"expected a number, got {kind(actual)}"]
        return compare_numbers(actual, expected, rtol, atol)
    if expected is None:
        return [] if actual is None else [f"expected None, got {kind(actual)}"]
    if isinstance(expected, bool | str):
        family = (bool, np.bool_) if isinstance(expected, bool) else (str,)
        if not isinstance(actual, family):
            return [f"expected {kind(expected)}, got {kind(actual)}"]
        return [] if actual == expected else ["values differ"]
    try:
        return [] if bool(actual == expected) else ["values differ"]
    except Exception:
        return [f"cannot compare {kind(actual)} with the expected {kind(expected)}"]


def is_number(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iufc"
    return isinstance(value, numbers.Number)


def compare_numbers(actual: Any, expected: Any, rtol: float, atol: float) -> list[str]:
    if all(np.asarray(value).dtype.kind in "iu" for value in (actual, expected)):
        return [] if actual == expected else ["values differ"]
    if np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
        return []
    allowed = atol + rtol * abs(expected)
    difference = abs(actual - expected)
    return [f"differs by {difference:.6g}; allowed: atol + rtol * |expected| = {allowed:.3g}"]


def compare_arrays(
    actual: Any, expected: np.ndarray[Any, Any], rtol: float, atol: float
) -> list[str]:
    """Differences in the style of np.testing: mismatched elements and the largest differences."""
    try:
        got = np.asarray(actual)
    except Exception:
        got = np.asarray(None)
    if actual is None or (got.dtype == object and expected.dtype != object):
        return [f"expected an array of shape {expected.shape}, got {kind(actual)}"]
    if got.shape != expected.shape:
        return [f"shape {got.shape} is not the expected {expected.shape}"]
    numeric = got.dtype.kind in "iufc" and expected.dtype.kind in "iufc"
    with np.errstate(all="ignore"):
        if numeric:
            close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        else:
            try:
                close = np.asarray(got == expected, dtype=bool)
            except Exception:
                close = np.zeros(expected.shape, dtype=bool)
    if close.shape != expected.shape:
        close = np.zeros(expected.shape, dtype=bool)
    if close.all():
        return []
    wrong = ~close
    count, total = int(wrong.sum()), wrong.size
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    lines = [
        f"Arrays are not close (rtol={rtol:g}, atol={atol:g})" if numeric else "Arrays differ",
        f"Mismatched elements: {count} / {total} ({100 * count / total:.3g}%)",
        f"First mismatch at index {first}: expected {show(element(expected, first))}, "
        f"got {show(element(got, first))}",
    ]
    if numeric:
        wide = np.result_type(got.dtype, expected.dtype, np.float64)
        want = expected[wrong].astype(wide)
        with np.errstate(all="ignore"):
            difference = np.abs(got[wrong].astype(wide) - want)
            relative = difference / np.abs(want)
        lines += [
            f"Max absolute difference: {np.max(difference):.6g}",
            f"Max relative difference: {np.max(relative):.6g}",
        ]
    return lines


def element(array: np.ndarray[Any, Any], index: tuple[int, ...]) -> Any:
    item = array[index]
    return item.item() if isinstance(item, np.generic) else item


# --- report lines ----------------------------------------------------------------------------


def trouble(attempt: Attempt) -> list[str]:
    """Report lines for an attempt that broke a rule or raised; empty when it went well."""
    lines = field("stopped", attempt.broke) if attempt.broke else []
    if attempt.error is not None:
        lines += field("raised", format_error(attempt.error))
    return lines


def format_error(error: BaseException) -> str:
    """The exception with the frames of author and library code, not those of this harness."""
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__
    ]
    lines = ["Traceback (most recent call last):"] if frames else []
    lines += "".join(traceback.format_list(frames)).splitlines()
    lines += "".join(traceback.format_exception_only(type(error), error)).splitlines()
    return "\n".join(lines)


def field(label: str, text: str) -> list[str]:
    first, *rest = text.splitlines() or [""]
    indent = " " * LABEL_WIDTH
    return [f"{label + ':':<{LABEL_WIDTH}}{first}", *(indent + line for line in rest)]


def describe_call(call: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    parts = [show(arg) for arg in args] + [f"{key}={show(value)}" for key, value in kwargs.items()]
    return f"{call}({', '.join(parts)})"


def show(value: Any, limit: int = 400) -> str:
    """An abbreviated repr: long arrays elided numpy-style, long text cut."""
    try:
        with np.printoptions(threshold=24, edgeitems=3, linewidth=88, precision=8):
            text = repr(value)
    except Exception:
        text = f"<{kind(value)} that cannot be shown>"
    return text if len(text) <= limit else text[:limit] + " ..."


def kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return "None" if value is None else f"a {type(value).__name__}"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
