"""Phase 0 (trusted): the inputs of every test of a master, recorded once per master and cached.

The master notebook runs in a kernel (in the sandbox when there is one: it
needs nothing else), then its tests run on its own answers
(``export.record_tests``). What comes back:

* ``inputs.npz``: for each test, which answers it takes and the arguments of
  each call it makes to them. Copied into every submission's sandbox: inputs
  only, no test code, no expected value.
* ``given.npz``: the master's values of the names a test takes that are not
  answers, and the structure of each call; read by phase 2 only.

Both are kept in the cache beside the autograders, with their SHA-256, under
a name made from the master's content and the grading code's, and checked
before each use.
"""

import hashlib
import json
import pathlib
import sys
import tempfile

from videokit.grading import masters, sandbox

PLAN_FILES = ("inputs.npz", "given.npz")
_CODE = ("calls.py", "checks.py", "export.py", "kernel.py", "plaindata.py", "worker.py")


class PlanError(RuntimeError):
    """The master could not be run to record its tests' inputs."""


def _digest(master):
    hasher = hashlib.sha256(pathlib.Path(master).read_bytes())
    for name in _CODE:
        hasher.update((pathlib.Path(__file__).parent / name).read_bytes())
    return hasher.hexdigest()[:16]


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def plan_dir(master):
    return masters.cache_dir().parent / "plans" / f"{pathlib.Path(master).stem}-{_digest(master)}"


def verified_plan(folder):
    """The plan's files' bytes, by name, when every file matches the hash recorded beside it; else None."""
    folder = pathlib.Path(folder)
    try:
        recorded = json.loads((folder / "sha256.json").read_text())
        files = {name: (folder / name).read_bytes() for name in PLAN_FILES}
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or any(recorded.get(name) != _sha256(data) for name, data in files.items()):
        return None
    return files


def split_report(report, names):
    """Splits a worker's report (a JSON line, then the files' bytes) into ``(header, {name: bytes})``.

    Raises:
        ValueError: when the report is not of that shape.
    """
    line, _, rest = report.partition(b"\n")
    header = json.loads(line.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the report's header is not an object")
    sizes = header.get("files") if isinstance(header.get("files"), dict) else {}
    files, offset = {}, 0
    for name in names:
        size = sizes.get(name)
        if not isinstance(size, int) or size < 0 or offset + size > len(rest):
            continue
        files[name], offset = rest[offset : offset + size], offset + size
    return header, files


def build_plan(master, kernel_spec, *, timeout, sandboxed, limits, wall_seconds, slot=0):
    """The plan of `master` (``{name: bytes}``), from the cache or recorded now.

    Args:
        master: path of the master notebook.
        kernel_spec: a callable writing the grading kernel's spec into a folder.
        timeout: seconds for each cell and each test.
        sandboxed: run the master in the sandbox.
        limits: the sandbox's limits.
        wall_seconds: wall limit of the whole run.
        slot: a number no other sandboxed run going on at the same time has.

    Raises:
        PlanError: when the master's notebook could not be run or recorded.
    """
    import nbformat

    folder = plan_dir(master)
    files = verified_plan(folder)
    if files is not None:
        return files
    with tempfile.TemporaryDirectory(prefix="videokit-plan-") as workspace:
        workspace = pathlib.Path(workspace)
        notebook = nbformat.read(master, as_version=4)
        notebook.metadata["kernelspec"] = {"name": "videokit-grading", "display_name": "videokit grading",
                                           "language": "python"}
        nbformat.write(notebook, workspace / "master.ipynb")
        tests = {"tests": masters.test_cells(master), "answers": sorted(masters.answer_names(master))}
        (workspace / "tests.json").write_text(json.dumps(tests), encoding="utf-8")
        kernel_spec(workspace / "jupyter" / "kernels" / "videokit-grading")
        root = sandbox.SANDBOX_ROOT
        command = [sys.executable, "-m", "videokit.grading.worker", "record", f"{root}/master.ipynb",
                   f"{root}/tests.json", "{report}"]
        log = workspace.parent / f"{workspace.name}.log"
        status, timed_out, report = sandbox.run(
            command, workspace, wall_seconds=wall_seconds, limits=limits, sandbox=sandboxed, log_path=log,
            variables={"JUPYTER_PATH": f"{root}/jupyter", "VIDEOKIT_GRADING_TIMEOUT": str(timeout)},
            slot=slot,
        )
        try:
            header, files = split_report(report, PLAN_FILES)
        except ValueError:
            header, files = {}, {}
        tail = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
        log.unlink(missing_ok=True)
        if timed_out or len(files) < len(PLAN_FILES):
            problem = "time limit" if timed_out else header.get("error") or f"exit status {status}"
            raise PlanError(f"{pathlib.Path(master).name}: the master's tests could not be recorded ({problem})\n{tail}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "sha256.json").write_text(json.dumps({name: _sha256(data) for name, data in files.items()}))
    return files
