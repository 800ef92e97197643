"""Phase 1's sandbox: runs a command (the grading worker) under bubblewrap with resource limits.

The command sees a root of its own: the system and Python read-only, the
``videokit`` package alone read-only (not the checkout around it, so neither
``solutions/`` nor the tests), its workspace folder read-only as ``/grading``,
and a private ``/tmp`` of limited size, the only place it can write. The
autograder cache, the other submissions and the grader's files are not there.
It hands its report back through a pipe (an inherited file descriptor), read
up to a size limit. It gets new pid, network, ipc and uts namespaces, dies with the grader
(``--die-with-parent``), and when the grader kills it at the wall limit every
process it started dies with the pid namespace, whatever it does with signals.
When the grader runs as root, each run gets a user id of its own, so that the
process limit of one submission cannot starve another.
"""

import dataclasses
import functools
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

SANDBOX_ROOT = "/grading"  # where the workspace folder appears inside the sandbox
FIRST_UID = 100_000  # sandboxed runs of a root grader use FIRST_UID + their index
MAX_REPORT_BYTES = 128 * 2**20  # the exported answers (arrays, model weights) come back this way
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
_PASSED_VARIABLES = ("KERAS_BACKEND", "LANG", "LC_ALL", "TF_CPP_MIN_LOG_LEVEL")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run (``prlimit``), per process where the kernel counts so.

    Args:
        cpu_seconds: CPU time of each process.
        memory_bytes: address space of each process.
        processes: processes and threads of the sandbox's user.
        file_bytes: size of any file written, the output log included.
        tmp_bytes: size of the private ``/tmp``.
    """

    cpu_seconds: int = 3600
    memory_bytes: int = 16 * 2**30
    processes: int = 1024
    file_bytes: int = 256 * 2**20
    tmp_bytes: int = 1 * 2**30


@functools.lru_cache(maxsize=None)
def sandbox_problem():
    """Why bubblewrap cannot sandbox the grader here, or ``""`` when it can (probed once)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux, this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(
        [shutil.which("bwrap"), "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
         "--dev", "/dev", "true"], capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        return f"bubblewrap cannot make namespaces here: {probe.stderr.strip()[:300]}"
    return ""


def _package_dir():
    return pathlib.Path(__file__).resolve().parents[1]


def readable_paths():
    """The folders the sandbox sees read-only: the system, Python, its site-packages and the ``videokit`` package.

    Other ``sys.path`` folders (the working directory, a script's folder, the
    checkout of an editable install) are left out: the package folder alone
    stands for the checkout, so ``solutions/`` and ``tests/`` stay out of sight.
    """
    paths = {pathlib.Path(path) for path in _SYSTEM_PATHS if os.path.exists(path)}
    paths |= {pathlib.Path(path).resolve() for path in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths |= {pathlib.Path(entry).resolve() for entry in sys.path
              if entry and pathlib.Path(entry).name in ("site-packages", "dist-packages") and os.path.isdir(entry)}
    paths.add(_package_dir())
    return sorted(path for path in paths if not any(other in path.parents for other in paths))


def _ancestors(path):
    return [parent for parent in reversed(pathlib.Path(path).parents) if parent != pathlib.Path("/")]


def bwrap_arguments(workspace, limits, info_fd):
    """The ``bwrap`` command line (up to the command itself) for a run in `workspace`.

    bubblewrap writes the pid of the sandbox's first process (pid 1 of its
    namespace) as JSON to the file descriptor `info_fd`.
    """
    arguments = [shutil.which("bwrap"), "--info-fd", str(info_fd), "--unshare-pid", "--unshare-net", "--unshare-ipc",
                 "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--perms", "1777", "--size",
                 str(limits.tmp_bytes), "--tmpfs", "/tmp"]  # first: Python may live under /tmp (a venv)
    made = set()
    for path in readable_paths():
        for parent in _ancestors(path):
            if parent not in made and str(parent) not in _SYSTEM_PATHS:
                arguments += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        arguments += ["--ro-bind", str(path), str(path)]
    arguments += ["--proc", "/proc", "--dev", "/dev", "--ro-bind", str(workspace), SANDBOX_ROOT, "--chdir", "/tmp"]
    return arguments


def limit_arguments(limits, uid):
    """``prlimit`` (and, for a root grader, ``setpriv`` to user `uid`) in front of the sandboxed command."""
    drop = []
    if os.geteuid() == 0:
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all"]
    return drop + ["prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_bytes}",
                   f"--nproc={limits.processes}", f"--fsize={limits.file_bytes}", "--core=0", "--"]


def sandbox_environment(variables):
    """The environment inside the sandbox: a small fixed one, `variables`, and the Keras backend."""
    environment = {"PATH": f"{pathlib.Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                   "HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
                   "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
                   "PYTHONPATH": str(_package_dir().parent)}  # this videokit, whatever an editable install points to
    environment |= {name: os.environ[name] for name in _PASSED_VARIABLES if name in os.environ}
    return environment | dict(variables)


def _readable(workspace):
    """Opens `workspace` to every user (the sandbox's user reads it; it is mounted read-only)."""
    for path in [workspace, *workspace.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def run(command, workspace, *, wall_seconds, limits=Limits(), variables=(), sandbox=True, log_path=None, slot=0):
    """Runs `command` on `workspace`, sandboxed unless `sandbox` is false, and kills it all at `wall_seconds`.

    Args:
        command: the command, with paths as the sandbox sees them (``/grading/...``); the argument
            ``"{report}"`` is replaced by the number of the pipe's file descriptor the command writes its report to.
        workspace: the command's input folder (``/grading``, read-only, inside).
        wall_seconds: wall-clock limit of the whole run, enforced from outside.
        limits: a `Limits`.
        variables: extra environment variables (a dict).
        sandbox: false to run without bubblewrap or limits (``--no-sandbox``).
        log_path: file for the command's output (stdout and stderr).
        slot: a number no other run going on at the same time has (gives a root grader's run its user id).

    Returns:
        ``(exit status, timed_out, report)``: the report is the bytes written to the pipe,
        at most `MAX_REPORT_BYTES` of them.
    """
    workspace = pathlib.Path(workspace)
    environment = sandbox_environment(dict(variables))
    read_end, write_end = os.pipe()
    info_read, info_write = os.pipe()
    command = [str(write_end) if part == "{report}" else part for part in command]
    if sandbox:
        _readable(workspace)
        argv = bwrap_arguments(workspace, limits, info_write) + limit_arguments(limits, FIRST_UID + slot) + command
    else:
        argv = [part.replace(SANDBOX_ROOT, str(workspace), 1) for part in command]
        environment = {name: value.replace(SANDBOX_ROOT, str(workspace)) for name, value in environment.items()}
        environment = dict(os.environ) | environment | {"HOME": os.environ.get("HOME", "/tmp")}
        environment.pop("TMPDIR", None)
    report, info = [], []
    readers = [threading.Thread(target=_read_pipe, args=(read_end, report), daemon=True),
               threading.Thread(target=_read_pipe, args=(info_read, info), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        with open(log_path or os.devnull, "wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=environment, cwd="/tmp", start_new_session=True,
                                       pass_fds=(write_end, info_write))
    finally:
        os.close(write_end)
        os.close(info_write)
    try:
        status, timed_out = process.wait(timeout=wall_seconds), False
    except subprocess.TimeoutExpired:
        _kill(process)
        status, timed_out = process.returncode, True
    for reader in readers:
        reader.join(timeout=10)
    if timed_out:
        _wait_for_namespace(b"".join(info))
    return status, timed_out, b"".join(report)


def _read_pipe(read_end, chunks):
    """Reads a pipe until it closes, keeping at most `MAX_REPORT_BYTES`."""
    kept = 0
    with open(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            if kept < MAX_REPORT_BYTES:
                chunks.append(chunk[: MAX_REPORT_BYTES - kept])
                kept += len(chunks[-1])


def _wait_for_namespace(info, seconds=10.0):
    """Waits until the kernel has killed every process of a killed sandbox.

    Killing bubblewrap kills pid 1 of the sandbox's pid namespace
    (``--die-with-parent``), which exits only once the kernel has killed every
    other process in the namespace.

    Args:
        info: what bubblewrap wrote to its info pipe (``{"child-pid": N}``), or ``b""`` without a sandbox.
        seconds: how long to wait at most.
    """
    try:
        pid = int(json.loads(info)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _running(pid):  # pid 1 of a namespace exits after all its processes
        time.sleep(0.05)


def _running(pid):
    """Whether `pid` exists and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _kill(process):
    """Kills the process group of a run; bubblewrap's pid namespace takes every process of the sandbox with it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
