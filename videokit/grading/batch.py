"""The grading driver (trusted): a batch of submissions, each in two phases, two processes.

Before the batch, phase 0 records the inputs of each needed master's tests
(``plans.py``, cached). For each notebook: identify its exercise set, rebuild
it from its cells' sources into a fresh workspace with the set's test inputs,
run it there in the sandbox under a wall limit (phase 1: the worker exports
its answers as plain data), then check those answers against the master's
tests in a fresh trusted process (phase 2, ``checker.py``), score the result
against the master's question plan, and append it to the journal. Whatever
happens to one notebook becomes its error row; the batch goes on.
"""

import hashlib
import json
import pathlib
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import os
import subprocess

from videokit.grading import masters, plans, sandbox
from videokit.grading.kernel import DEFAULT_TIMEOUT
from videokit.grading.reports import Journal
from videokit.grading.scoring import SubmissionResult, score_report

KERNEL_NAME = "videokit-grading"
_STARTUP_SECONDS = 120.0  # kernel start and imports, on top of the time limits of the cells
CHECKER_MEMORY_BYTES = 16 * 2**30


class GradingError(ValueError):
    """A submission that the grader cannot grade: not a notebook, or of no known exercise set."""


class SandboxUnavailable(RuntimeError):
    """No sandbox on this machine, and ``--no-sandbox`` was not given."""


def collect_notebooks(paths):
    """The files to grade: each path itself, or the ``*.ipynb`` files under a folder."""
    files = []
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            files += sorted(
                found for found in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in found.parts
            )
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder.")
    return files


def identify_exercise(notebook, path, known):
    """The exercise set of a submission: from otter's metadata, else from a ``NN_`` file name prefix.

    Any shape of metadata is accepted; only a string naming a known set counts.
    """
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    otter = metadata.get("otter") if isinstance(metadata, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    if isinstance(name, str) and name in known:
        return name
    prefix = pathlib.Path(path).name[:3]
    by_prefix = [candidate for candidate in known if candidate.startswith(prefix)]
    if re.fullmatch(r"\d\d_", prefix) and len(by_prefix) == 1:
        return by_prefix[0]
    shown = name if isinstance(name, str) else type(name).__name__
    raise GradingError(
        f"unknown exercise set (notebook metadata says {shown[:80]!r}, file name {pathlib.Path(path).name!r}); "
        f"known sets: {', '.join(known)}"
    )


def read_submission(path):
    """The submission's cells as ``(cell type, source)`` pairs, and its raw JSON.

    Raises:
        GradingError: when the file is not a notebook of JSON cells with text sources.
    """
    try:
        data = json.loads(pathlib.Path(path).read_bytes())
        cells = [(cell["cell_type"], _source(cell["source"])) for cell in data["cells"]]
    except Exception as error:  # Any reason the file is not a readable notebook.
        raise GradingError(f"not a Jupyter notebook ({type(error).__name__}: {str(error)[:200]})") from None
    return [(kind, source) for kind, source in cells if kind in ("code", "markdown", "raw")], data


def _source(source):
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    if isinstance(source, str):
        return source
    raise ValueError(f"a cell source is a string or a list of strings, not {type(source).__name__}")


def clean_notebook(cells, exercise):
    """A fresh notebook of the submission's cells (no outputs, no metadata but the exercise set's name)."""
    import nbformat

    makers = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
              "raw": nbformat.v4.new_raw_cell}
    return nbformat.v4.new_notebook(
        cells=[makers[kind](source) for kind, source in cells],
        metadata={"otter": {"assignment_name": exercise},
                  "kernelspec": {"name": KERNEL_NAME, "display_name": "videokit grading", "language": "python"}},
    )


def default_wall_limit(timeout, questions):
    """The wall limit of one notebook: kernel start-up, and three time limits per question plus two."""
    return _STARTUP_SECONDS + 3 * timeout * (questions + 2)


def grade(paths, *, timeout=DEFAULT_TIMEOUT, jobs=1, solutions=None, progress=None, output=None, resume=False,
          sandboxed=True, wall_limit=None, limits=sandbox.Limits()):
    """Grades notebooks (or folders of notebooks) with the hidden tests; returns `SubmissionResult`s.

    Args:
        paths: notebooks or folders.
        timeout: seconds allowed to each cell and to each test case.
        jobs: submissions graded at the same time.
        solutions: the folder of solution masters (default: the repository's).
        progress: a callable given each `SubmissionResult` as it is done.
        output: folder of the journal ``grades.jsonl`` (None: no journal).
        resume: keep the journal's results of notebooks that have not changed, and grade the rest.
        sandboxed: run each notebook in the bubblewrap sandbox; False only on the instructor's
            explicit ``--no-sandbox``.
        wall_limit: seconds one notebook may take in all (default: `default_wall_limit`).
        limits: the sandbox's `sandbox.Limits`.

    Raises:
        SandboxUnavailable: when `sandboxed` and bubblewrap cannot run here.
    """
    masters.import_otter()
    if sandboxed and sandbox.sandbox_problem():
        raise SandboxUnavailable(f"cannot sandbox the notebooks: {sandbox.sandbox_problem()}; install bubblewrap, "
                                 "or pass --no-sandbox to run students' code with your permissions.")
    files = collect_notebooks(paths)
    sets = masters.exercise_sets(solutions)
    if not sets:
        raise FileNotFoundError(f"{masters.solutions_dir(solutions)}: no exercise masters (NN_topic.ipynb).")
    journal = Journal(output, resume) if output is not None else None
    grader = _Grader(sets, timeout, sandboxed, wall_limit, limits, max(1, jobs))
    grader.build_plans(files)
    with tempfile.TemporaryDirectory(prefix="videokit-grading-") as workspace:

        def grade_one(item):
            index, path = item
            digest = _digest(path)
            result = journal.earlier(str(path), digest) if journal is not None else None
            if result is None:
                result = grader.grade_file(path, digest, pathlib.Path(workspace) / f"{index:05d}", index)
                if journal is not None:
                    journal.append(result)
            if progress is not None:
                progress(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(grade_one, enumerate(files)))


class _Grader:
    """Grades one file at a time (thread-safe): everything that goes wrong becomes an error row."""

    def __init__(self, sets, timeout, sandboxed, wall_limit, limits, jobs=1):
        self.sets, self.timeout, self.sandboxed, self.jobs = sets, float(timeout), sandboxed, jobs
        self.wall_limit, self.limits = wall_limit, limits
        self.plans = {name: masters.question_plan(master) for name, master in sets.items()}
        self.recorded, self.plan_errors = {}, {}

    def build_plans(self, files):
        """Phase 0: records the test inputs of the sets `files` belong to, before any grading starts.

        A master that cannot be recorded makes an error row of each of its
        submissions (the batch goes on).
        """
        needed = set()
        for path in files:
            try:
                needed.add(identify_exercise(read_submission(path)[1], path, self.sets))
            except GradingError:
                continue
        def record(item):
            index, name = item
            wall = default_wall_limit(self.timeout, len(self.plans[name])) + 20 * self.timeout
            try:
                self.recorded[name] = plans.build_plan(self.sets[name], _write_kernelspec, timeout=self.timeout,
                                                       sandboxed=self.sandboxed, limits=self.limits,
                                                       wall_seconds=wall, slot=self.jobs + index)
            except plans.PlanError as error:
                self.plan_errors[name] = str(error).splitlines()[0]

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            list(pool.map(record, enumerate(sorted(needed))))

    build_autograders = build_plans  # the name phase 1 of issue 12 gave it

    def grade_file(self, path, digest, folder, slot):
        result = SubmissionResult(path=str(path), sandboxed=self.sandboxed, sha256=digest)
        started = time.monotonic()
        try:
            cells, data = read_submission(path)
            result.exercise = identify_exercise(data, path, self.sets)
            if result.exercise in self.plan_errors:
                raise GradingError(f"the grader could not record the tests of {result.exercise}: "
                                   f"{self.plan_errors[result.exercise]}")
            report = self.run_worker(cells, result.exercise, folder, slot)
            if not report.get("error"):
                report = dict(self.run_checker(result.exercise, folder, report), cell_errors=report["cell_errors"])
            score_report(result, report, self.plans[result.exercise])
        except GradingError as error:
            result.status, result.error = "error", str(error)
        except Exception as error:  # A failure of the grader on this notebook must not stop the batch.
            result.status = "error"
            result.error = f"the grader failed on this notebook: {type(error).__name__}: {error}"
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def run_worker(self, cells, exercise, folder, slot):
        """Phase 1: runs the submission in the sandbox and exports its answers.

        Returns:
            ``{"cell_errors": [...], "error": "...", "answers": path}``: the answers file, written here
            from the sandbox's report (untrusted bytes, read by phase 2 as plain data only).
        """
        import nbformat

        folder.mkdir(parents=True)
        inputs = folder / "inputs"
        inputs.mkdir()
        nbformat.write(clean_notebook(cells, exercise), inputs / "submission.ipynb")
        (inputs / "inputs.npz").write_bytes(self.recorded[exercise]["inputs.npz"])
        _write_kernelspec(inputs / "jupyter" / "kernels" / KERNEL_NAME)
        root = sandbox.SANDBOX_ROOT
        command = [sys.executable, "-m", "videokit.grading.worker", "export", f"{root}/submission.ipynb",
                   f"{root}/inputs.npz", "{report}"]
        wall = self.wall_limit or default_wall_limit(self.timeout, len(self.plans[exercise]))
        status, timed_out, report = sandbox.run(
            command, inputs, wall_seconds=wall, limits=self.limits, sandbox=self.sandboxed,
            variables={"JUPYTER_PATH": f"{root}/jupyter", "VIDEOKIT_GRADING_TIMEOUT": str(self.timeout)},
            log_path=folder / "sandbox.log", slot=slot,
        )
        if timed_out:
            return {"error": f"time limit: grading did not finish in {wall:.0f} s; stopped"}
        if not report:
            return {"error": f"the grading worker failed (exit status {status}); the notebook's kernel or the "
                             "sandbox stopped it"}
        try:
            header, files = plans.split_report(report, ["answers.npz"])
        except ValueError:
            return {"error": "the grading worker wrote an unreadable report"}
        errors = header.get("cell_errors")
        answers = folder / "answers.npz"
        answers.write_bytes(files.get("answers.npz", b""))
        error = header.get("error") if isinstance(header.get("error"), str) else ""
        if "answers.npz" not in files and not error:
            error = "the notebook's answers could not be exported"
        return {"cell_errors": errors if isinstance(errors, list) else [], "error": error}

    def run_checker(self, exercise, folder, report):
        """Phase 2: the master's tests on the exported answers, in a fresh trusted process; its report."""
        given = folder / "given.npz"
        given.write_bytes(self.recorded[exercise]["given.npz"])
        command = [sys.executable, "-m", "videokit.grading.checker", str(self.sets[exercise]), str(given),
                   str(folder / "answers.npz"), str(self.timeout)]
        if shutil.which("prlimit"):
            command = ["prlimit", f"--as={CHECKER_MEMORY_BYTES}", "--", *command]
        environment = {name: value for name, value in os.environ.items() if name not in ("PYTHONSTARTUP",)}
        environment |= {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
        wall = self.timeout * (sum(len(cases) for cases in self.plans[exercise].values()) + 1) + _STARTUP_SECONDS
        try:
            done = subprocess.run(command, capture_output=True, timeout=wall, env=environment, cwd=folder,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"error": f"time limit: checking the answers took over {wall:.0f} s"}
        try:
            return json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            return {"error": f"checking the answers failed (exit status {done.returncode}): {tail[0][:300]}"}


def _digest(path):
    """The SHA-256 of a file's content, or ``""`` when it cannot be read."""
    try:
        return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _write_kernelspec(folder):
    folder.mkdir(parents=True)
    kernel = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
              "display_name": "videokit grading", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
