"""The grading driver (trusted): a batch of submissions, each run in the sandbox then scored here.

For each notebook: identify its exercise set, rebuild it from its cells'
sources into a fresh workspace with a verified copy of the set's autograder,
run the grading worker there in the sandbox under a wall limit, score the
worker's report against the master's question plan, and append the result to
the journal. Whatever happens to one notebook becomes its error row; the
batch goes on.
"""

import hashlib
import json
import pathlib
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from videokit.grading import masters, sandbox
from videokit.grading.kernel import DEFAULT_TIMEOUT
from videokit.grading.reports import Journal
from videokit.grading.scoring import SubmissionResult, score_report

KERNEL_NAME = "videokit-grading"
_STARTUP_SECONDS = 120.0  # kernel start and imports, on top of the time limits of the cells


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
    grader = _Grader(sets, timeout, sandboxed, wall_limit, limits)
    grader.build_autograders(files)
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

    def __init__(self, sets, timeout, sandboxed, wall_limit, limits):
        self.sets, self.timeout, self.sandboxed = sets, float(timeout), sandboxed
        self.wall_limit, self.limits = wall_limit, limits
        self.plans = {name: masters.question_plan(master) for name, master in sets.items()}
        self.autograders = {}

    def build_autograders(self, files):
        """Builds the autograders of the sets `files` belong to, before any grading starts.

        otter assign changes the working directory and swaps ``sys.stdout``, so
        it cannot run while other threads grade.
        """
        needed = set()
        for path in files:
            try:
                needed.add(identify_exercise(read_submission(path)[1], path, self.sets))
            except GradingError:
                continue
        self.autograders = {name: masters.autograder_zip(self.sets[name]) for name in sorted(needed)}

    def grade_file(self, path, digest, folder, slot):
        result = SubmissionResult(path=str(path), sandboxed=self.sandboxed, sha256=digest)
        started = time.monotonic()
        try:
            cells, data = read_submission(path)
            result.exercise = identify_exercise(data, path, self.sets)
            report = self.run_worker(cells, result.exercise, folder, slot)
            score_report(result, report, self.plans[result.exercise])
        except GradingError as error:
            result.status, result.error = "error", str(error)
        except Exception as error:  # A failure of the grader on this notebook must not stop the batch.
            result.status = "error"
            result.error = f"the grader failed on this notebook: {type(error).__name__}: {error}"
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def run_worker(self, cells, exercise, folder, slot):
        """Runs the worker on one submission in `folder`; returns its report (untrusted, as parsed JSON)."""
        import nbformat

        folder.mkdir(parents=True)
        nbformat.write(clean_notebook(cells, exercise), folder / "submission.ipynb")
        masters.verified_copy(self.autograders[exercise], folder)
        _write_kernelspec(folder / "jupyter" / "kernels" / KERNEL_NAME)
        root = sandbox.SANDBOX_ROOT
        command = [sys.executable, "-m", "videokit.grading.worker", f"{root}/autograder.zip",
                   f"{root}/submission.ipynb", "{report}"]
        wall = self.wall_limit or default_wall_limit(self.timeout, len(self.plans[exercise]))
        status, timed_out, report = sandbox.run(
            command, folder, wall_seconds=wall, limits=self.limits, sandbox=self.sandboxed,
            variables={"JUPYTER_PATH": f"{root}/jupyter", "VIDEOKIT_GRADING_TIMEOUT": str(self.timeout)},
            log_path=folder.parent / f"{folder.name}.log", slot=slot,
        )
        if timed_out:
            return {"error": f"time limit: grading did not finish in {wall:.0f} s; stopped"}
        if report:
            try:
                return json.loads(report.decode("utf-8"))
            except ValueError:
                return {"error": "the grading worker wrote an unreadable report"}
        return {"error": f"the grading worker failed (exit status {status}); the notebook's kernel or the sandbox "
                         "stopped it"}


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
