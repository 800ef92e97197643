"""Graded exercises: student notebooks from solution masters, and grading with otter-grader.

The exercise sets are written as otter-grader master notebooks in ``solutions/``
(``NN_topic.ipynb``, otter-assign format, solutions and hidden tests included).
Three things are built on them:

* ``write_exercises`` runs ``otter assign`` on every master and writes the
  student notebooks to ``exercises/``: solutions replaced by ``...``, only the
  visible tests, stored in the notebook metadata so that ``grader.check("q1")``
  works with the notebook as a single file (``tools/make_exercises.py``).
* ``prepare_colab`` is called by the Colab-only setup cell of a student
  notebook: Colab does not give the kernel the notebook file, so it fetches the
  exercise from GitHub and writes its visible tests to ``tests/``.
* ``grade`` (``videokit grade``) grades submissions with ``otter run`` (no
  Docker), against the hidden tests of an autograder built from the master on
  the fly and cached by the master's hash. Every submission runs in its own
  worker process, which runs the notebook in its own Jupyter kernel; the
  grader's own process never executes student code.

The ``GradingGuard`` otter plugin (named in each master's ``generate`` config)
makes grading robust to what student notebooks do: every cell and every test
case gets a time limit, printed output is capped, a notebook cannot stop its
kernel with ``exit()``, the student's own ``grader.check`` calls are skipped,
builtins and otter's classes are restored after the student's cells, and each
question is then tested in its own cell against the notebook's final state,
whatever the order of its cells.

Nothing here is imported by ``import videokit``, and this module imports only
the standard library at import time (otter-grader and nbformat are imported
where they are needed), so the kernel-side helpers below load quickly.
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

OTTER_REQUIREMENT = "otter-grader>=7,<8"
REPOSITORY = "videokit-course/videokit"
EXERCISE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/exercises/{{name}}.ipynb"
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_TIMEOUT = 120.0
MAX_OUTPUT_CHARS = 1_000_000
REPORT_NAMES = ("grades.json", "grades.csv")

_SET_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+$")
_GRADER_CALL = re.compile(r"^\s*grader\.(check|check_all|export)\(.*\)\s*;?\s*(#.*)?$")
_GRADER_INIT = re.compile(r"^(\s*grader\s*=\s*otter\.Notebook)\(.*\)\s*$")  # reads the notebook file by name
_CHECK_MARKER = "# videokit-grading: test one question"
_EXPORT_MARKER = "GradingResults(Checker.get_results())"  # otter's last cell, which saves the results
_KERNEL_NAME = "videokit-grading"
_CELL_GRACE_SECONDS = 30.0  # the kernel's own time limit acts first; then nbclient interrupts the kernel
_MAX_TEST_CASES = 8  # per question, to bound the time of one question's cell


class GradingError(ValueError):
    """A submission that the grader cannot grade: not a notebook, or of no known exercise set."""


# --------------------------------------------------------------------------- exercise sets


def solutions_dir(solutions=None):
    """The folder of solution masters: `solutions`, else the repository's ``solutions/``."""
    folder = pathlib.Path(solutions) if solutions is not None else REPOSITORY_ROOT / "solutions"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: no folder of solution masters; pass --solutions with the course's solutions/ folder."
        )
    return folder


def exercise_sets(solutions=None):
    """Maps each exercise set name (``"01_convolution"``) to its master notebook."""
    folder = solutions_dir(solutions)
    return {path.stem: path for path in sorted(folder.glob("*.ipynb")) if _SET_NAME.match(path.stem)}


def _import_otter():
    try:
        import otter
    except ImportError as error:
        raise ImportError(
            f"grading needs otter-grader: pip install \"{OTTER_REQUIREMENT}\" (or pip install -e \".[course]\")"
        ) from error
    return otter


def otter_version():
    return _import_otter().__version__


def run_otter_assign(master, result_dir):
    """Runs ``otter assign`` on `master`; returns the paths of the student notebook and the autograder zip."""
    _import_otter()
    from otter.assign import main as assign

    master = pathlib.Path(master).resolve()
    result_dir = pathlib.Path(result_dir).resolve()
    with _quiet():
        assign(str(master), str(result_dir), no_pdfs=True, no_run_tests=True)
    student = result_dir / "student" / master.name
    (zip_path,) = sorted((result_dir / "autograder").glob("*.zip"))
    return student, zip_path


def student_notebook(master):
    """The student version of `master`, as written to ``exercises/``: a ``nbformat`` notebook."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="videokit-assign-") as folder:
        student, _ = run_otter_assign(master, folder)
        notebook = nbformat.read(student, as_version=4)
    return _normalized(notebook, pathlib.Path(master).stem)


def _normalized(notebook, name):
    """Drops what changes between runs of otter assign (outputs, cell ids, execution counts)."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:03d}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook


def _notebook_text(notebook):
    import nbformat

    return nbformat.writes(notebook) + "\n"


def write_exercises(solutions=None, exercises=None):
    """Writes ``exercises/NN_topic.ipynb`` for every master; returns the paths written."""
    folder = pathlib.Path(exercises) if exercises is not None else REPOSITORY_ROOT / "exercises"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, master in exercise_sets(solutions).items():
        path = folder / f"{name}.ipynb"
        path.write_text(_notebook_text(student_notebook(master)), encoding="utf-8")
        written.append(path)
    return written


def stale_exercises(solutions=None, exercises=None):
    """Student notebooks in `exercises` that differ from what their master generates, or are missing."""
    folder = pathlib.Path(exercises) if exercises is not None else REPOSITORY_ROOT / "exercises"
    stale = []
    for name, master in exercise_sets(solutions).items():
        path = folder / f"{name}.ipynb"
        expected = json.loads(_notebook_text(student_notebook(master)))
        if not path.is_file() or json.loads(path.read_text(encoding="utf-8")) != expected:
            stale.append(path)
    return stale


def _cache_dir():
    base = os.environ.get("VIDEOKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "videokit"
    )
    return pathlib.Path(base) / "autograders"


def autograder_zip(master):
    """The otter autograder zip (hidden tests included) of `master`, built once per master content."""
    master = pathlib.Path(master)
    digest = hashlib.sha256(master.read_bytes() + otter_version().encode()).hexdigest()[:16]
    target = _cache_dir() / f"{master.stem}-{digest}.zip"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="videokit-assign-") as folder:
            _, built = run_otter_assign(master, folder)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(built, partial)
            os.replace(partial, target)
    return target


class _quiet:
    """Silences what otter prints while it assigns (its own logging and progress output)."""

    def __enter__(self):
        self._streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()

    def __exit__(self, *exc_info):
        captured = sys.stdout.getvalue()
        sys.stdout, sys.stderr = self._streams
        if exc_info[0] is not None and captured.strip():
            print(captured[-3000:], file=sys.stderr)
        return False


# --------------------------------------------------------------------------- Colab


def prepare_colab(name, folder=".", url=None):
    """Makes ``grader.check`` work on Colab, where the kernel cannot read the notebook file.

    Downloads the student notebook of exercise set `name` from the repository
    (or `url`) into `folder`, unless it is there, and writes its visible tests
    to ``folder/tests/`` as otter test files. Called by the Colab-only setup
    cell of every exercise notebook.

    Args:
        name: the exercise set, e.g. ``"01_convolution"``.
        folder: where the notebook and ``tests/`` go (Colab's working directory).
        url: where to download the notebook; defaults to the repository's
            ``exercises/{name}.ipynb`` on GitHub.

    Returns:
        The list of test files written.
    """
    import urllib.request

    folder = pathlib.Path(folder)
    notebook_path = folder / f"{name}.ipynb"
    if not notebook_path.is_file():
        with urllib.request.urlopen(url or EXERCISE_URL.format(name=name), timeout=60) as response:
            notebook_path.write_bytes(response.read())
    tests = json.loads(notebook_path.read_text(encoding="utf-8"))["metadata"]["otter"]["tests"]
    tests_dir = folder / "tests"
    tests_dir.mkdir(exist_ok=True)
    written = []
    for question, source in tests.items():
        path = tests_dir / f"{question}.py"
        path.write_text(source, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------- grading: results


@dataclasses.dataclass
class QuestionResult:
    name: str
    score: float
    max_score: float
    tests: list


@dataclasses.dataclass
class SubmissionResult:
    path: str
    exercise: str = ""
    status: str = "graded"  # "graded", or "error" when the grader could not grade it
    error: str = ""
    questions: list = dataclasses.field(default_factory=list)
    cell_errors: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self):
        return sum(question.score for question in self.questions)

    @property
    def max_score(self):
        return sum(question.max_score for question in self.questions)

    @property
    def percent(self):
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def to_dict(self):
        data = dataclasses.asdict(self)
        data.update(score=self.score, max_score=self.max_score, percent=round(self.percent, 2))
        return data


# --------------------------------------------------------------------------- grading: reports


def _number(value):
    return f"{value:g}"


def _question_order(name):
    digits = "".join(character for character in name if character.isdigit())
    return (int(digits) if digits else 0, name)


def format_score(result):
    """``"7 / 12 (58.3%)"``, or ``"error: ..."`` for a notebook that could not be graded."""
    if result.status != "graded":
        return f"error: {result.error}"
    return f"{_number(result.score)} / {_number(result.max_score)} ({result.percent:.1f}%)"


def format_table(results):
    """The score table: one row per notebook, one column per question, then the total and percentage."""
    questions = sorted({question.name for result in results for question in result.questions}, key=_question_order)
    header = ["notebook", "exercise", *questions, "total", "%", "cell errors"]
    rows = []
    for result in results:
        if result.status != "graded":
            error = result.error.strip().splitlines()[0] if result.error.strip() else "unknown error"
            rows.append([result.path, result.exercise or "-", f"error: {error[:160]}"])
            continue
        scores = {question.name: f"{_number(question.score)}/{_number(question.max_score)}"
                  for question in result.questions}
        rows.append([
            result.path, result.exercise, *(scores.get(name, "-") for name in questions),
            f"{_number(result.score)} / {_number(result.max_score)}", f"{result.percent:.1f}",
            str(len(result.cell_errors)),
        ])
    full_rows = [row for row in [header, *rows] if len(row) == len(header)]
    widths = [max(len(row[column]) for row in (full_rows if column > 1 else [header, *rows]))
              for column in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) if column < 2 else cell.rjust(width)
                 for column, (cell, width) in enumerate(zip(row, widths))]
        if len(row) != len(header):  # An error row: the message runs on after the exercise column.
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def write_reports(results, output):
    """Writes ``grades.json`` (everything, test messages included) and ``grades.csv`` (one row per notebook)."""
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = (output / name for name in REPORT_NAMES)
    report = {
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "otter_grader": otter_version(),
        "notebooks": [result.to_dict() for result in results],
    }
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    questions = sorted({question.name for result in results for question in result.questions}, key=_question_order)
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["notebook", "exercise", "status", "score", "max_score", "percent", *questions,
                         "cell_errors", "error"])
        for result in results:
            scores = {question.name: question.score for question in result.questions}
            writer.writerow([
                result.path, result.exercise, result.status, result.score, result.max_score, round(result.percent, 2),
                *(scores.get(name, "") for name in questions), len(result.cell_errors), result.error,
            ])
    return json_path, csv_path


# --------------------------------------------------------------------------- grading: driver


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
    """The exercise set of a submission: from otter's metadata, else from a ``NN_`` file name prefix."""
    name = notebook.get("metadata", {}).get("otter", {}).get("assignment_name")
    if name in known:
        return name
    prefix = pathlib.Path(path).name[:3]
    by_prefix = [candidate for candidate in known if candidate.startswith(prefix)]
    if re.fullmatch(r"\d\d_", prefix) and len(by_prefix) == 1:
        return by_prefix[0]
    raise GradingError(
        f"unknown exercise set (notebook metadata says {name!r}, file name {pathlib.Path(path).name!r}); "
        f"known sets: {', '.join(known)}"
    )


def grade(paths, *, timeout=DEFAULT_TIMEOUT, jobs=1, solutions=None, progress=None):
    """Grades notebooks (or folders of notebooks) with the hidden tests; returns `SubmissionResult`s.

    Each submission is graded by ``otter run`` in a worker process of its own,
    which runs the notebook in a fresh kernel. A submission that cannot be
    graded gets ``status="error"`` and the others go on.

    Args:
        paths: notebooks or folders.
        timeout: seconds allowed to each cell and to each test case.
        jobs: submissions graded at the same time.
        solutions: the folder of solution masters (default: the repository's).
        progress: a callable given each `SubmissionResult` as it is done.
    """
    _import_otter()
    files = collect_notebooks(paths)
    sets = exercise_sets(solutions)
    if not sets:
        raise FileNotFoundError(f"{solutions_dir(solutions)}: no exercise masters (NN_topic.ipynb).")
    results = [_identify(path, sets) for path in files]
    # otter assign changes the working directory, so the autograders are built here, one at a time.
    needed = sorted({result.exercise for result in results if result.status == "graded"})
    autograders = {name: autograder_zip(sets[name]) for name in needed}
    with tempfile.TemporaryDirectory(prefix="videokit-grading-") as workspace:
        workspace = pathlib.Path(workspace)
        environment = _worker_environment(workspace, timeout)

        def grade_one(item):
            index, result = item
            if result.status == "graded":
                started = time.monotonic()
                report = _run_worker(_read_submission(result.path), result.exercise, autograders[result.exercise],
                                     timeout, workspace / f"{index:04d}", environment)
                result.questions = [QuestionResult(**question) for question in report["questions"]]
                result.cell_errors = report["cell_errors"]
                if report.get("error"):
                    result.status, result.error = "error", report["error"]
                result.seconds = round(time.monotonic() - started, 1)
            if progress is not None:
                progress(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(grade_one, enumerate(results)))


def _identify(path, sets):
    """A `SubmissionResult` to fill in, with its exercise set, or with the reason it cannot be graded."""
    result = SubmissionResult(path=str(path))
    try:
        result.exercise = identify_exercise(_read_submission(path), path, sets)
    except GradingError as error:
        result.status, result.error = "error", str(error)
    return result


def _read_submission(path):
    import nbformat

    try:
        with open(path, encoding="utf-8") as file:
            return nbformat.read(file, as_version=4)
    except Exception as error:  # Any reason the file is not a readable notebook.
        raise GradingError(f"not a Jupyter notebook ({type(error).__name__}: {str(error)[:200]})") from None


def _worker_environment(workspace, timeout):
    """Environment of the workers: a kernelspec for this Python, and the time limit."""
    kernel_dir = workspace / "jupyter" / "kernels" / _KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "videokit grading",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    environment = dict(os.environ)
    environment["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(workspace / "jupyter"), environment.get("JUPYTER_PATH")])
    )
    environment["VIDEOKIT_GRADING_TIMEOUT"] = str(float(timeout))
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    environment.setdefault("MPLBACKEND", "Agg")
    environment["PYTHONIOENCODING"] = "utf-8"
    return environment


def _run_worker(notebook, exercise, zip_path, timeout, folder, environment):
    """Grades one submission in a worker process; returns its report (a dict)."""
    import nbformat

    folder.mkdir(parents=True)
    submission = folder / "submission.ipynb"
    notebook.metadata.setdefault("otter", {})["assignment_name"] = exercise
    notebook.metadata["kernelspec"] = {"name": _KERNEL_NAME, "display_name": "videokit grading", "language": "python"}
    nbformat.write(notebook, submission)
    report_path = folder / "report.json"
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    deadline = 120 + (timeout + _CELL_GRACE_SECONDS) * (code_cells + 3 * _MAX_TEST_CASES)
    command = [
        sys.executable, "-c", "import videokit.grading as g; g._worker_main()",
        str(zip_path), str(submission), str(report_path),
    ]
    with open(folder / "worker.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=folder,
            **({"start_new_session": True} if os.name == "posix" else {}),
        )
        try:
            process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            _kill_process_tree(process)
            return {"questions": [], "cell_errors": [],
                    "error": f"grading did not finish in {deadline:.0f} s; stopped (the notebook ignores time limits)"}
    if report_path.is_file():
        return json.loads(report_path.read_text(encoding="utf-8"))
    tail = (folder / "worker.log").read_text(encoding="utf-8", errors="replace")[-1500:]
    error = f"the grading worker failed (exit {process.returncode}): {tail}"
    return {"questions": [], "cell_errors": [], "error": error}


def _kill_process_tree(process):
    """Kills a worker and the kernel it started (they share the worker's session)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    process.wait()


# --------------------------------------------------------------------------- grading: worker process


def _worker_main(argv=None):
    """Worker entry point: ``otter.api.grade_submission`` on one notebook, report as JSON."""
    zip_path, submission, report_path = argv or sys.argv[1:]
    timeout = float(os.environ.get("VIDEOKIT_GRADING_TIMEOUT", DEFAULT_TIMEOUT))
    _use_cell_timeouts(timeout)
    import otter.api

    report = {"questions": [], "cell_errors": [], "error": ""}
    try:
        results = otter.api.grade_submission(submission, zip_path, quiet=True)
    except Exception as error:  # DeadKernelError and whatever else stops otter from finishing.
        report["error"] = _describe_failure(error)
    else:
        catastrophic = getattr(results, "_catastrophic_error", None)
        if catastrophic is not None:
            report["error"] = f"grading stopped before the results were saved: {catastrophic!r}"[:1500]
        report["questions"] = [_question_report(test_file) for test_file in results.results.values()]
        report["cell_errors"] = _cell_errors(results.notebook)
    pathlib.Path(report_path).write_text(json.dumps(report), encoding="utf-8")


def _describe_failure(error):
    name = type(error).__name__
    if name == "DeadKernelError":
        return "the notebook's kernel died (the notebook stopped its own process, or ran out of memory)"
    return f"otter could not grade the notebook: {name}: {str(error)[:1500]}"


def _question_report(test_file):
    tests = [
        {
            "name": result.test_case.name,
            "hidden": bool(result.test_case.hidden),
            "points": result.test_case.points,
            "passed": bool(result.passed),
            "message": str(result.message)[:2000],
        }
        for result in test_file.test_case_results
    ]
    return {"name": test_file.name, "score": float(test_file.score), "max_score": float(test_file.possible),
            "tests": tests}


def _cell_errors(notebook):
    """The errors raised by the student's cells, with their index in the submitted notebook."""
    errors = []
    for cell in notebook.cells if notebook is not None else []:
        index = cell.get("metadata", {}).get("videokit_grading", {}).get("index")
        if index is None:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append({"cell": index, "error": f"{output.get('ename')}: {output.get('evalue')}"[:300]})
    return errors


def _use_cell_timeouts(timeout):
    """Makes otter's executor interrupt a cell that outlives its time limit, and go on."""
    import nbconvert.preprocessors

    base = nbconvert.preprocessors.ExecutePreprocessor

    def cell_timeout(cell):
        if _CHECK_MARKER in cell.source:
            return int(_MAX_TEST_CASES * timeout + 2 * _CELL_GRACE_SECONDS)
        return int(timeout + _CELL_GRACE_SECONDS)

    class TimedExecutePreprocessor(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.timeout_func = cell_timeout
            self.interrupt_on_timeout = True
            self.error_on_timeout = {
                "ename": "TimeoutError",
                "evalue": f"the cell ran past its time limit ({timeout:g} s) and was interrupted",
                "traceback": [],
            }

    nbconvert.preprocessors.ExecutePreprocessor = TimedExecutePreprocessor


class GradingGuard:
    """otter-grader plugin that prepares a submission for robust grading (see the module docstring).

    Listed in each master's assignment config (``generate: plugins:``), so
    ``otter run`` calls ``before_execution`` on the notebook before running it.
    Reads the time limit from ``VIDEOKIT_GRADING_TIMEOUT`` (set by ``grade``).
    """

    def __init__(self, submission_path=None, submission_metadata=None, plugin_config=None):
        self.config = plugin_config or {}

    def before_execution(self, notebook):
        import glob

        timeout = float(os.environ.get("VIDEOKIT_GRADING_TIMEOUT", self.config.get("timeout", DEFAULT_TIMEOUT)))
        tests = sorted(glob.glob("./tests/*.py"))  # otter runs plugins in the submission folder
        return guard_notebook(notebook, tests, timeout=timeout)


def guard_notebook(notebook, tests, *, timeout=DEFAULT_TIMEOUT, max_output=MAX_OUTPUT_CHARS):
    """The notebook to execute for grading: guard cell, the student's cells, one test cell per question."""
    import nbformat

    suffix = secrets.token_hex(4)
    guard, check = f"_videokit_guard_{suffix}", f"_videokit_check_{suffix}"
    cells = []
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("otter", None)  # no otter checks inserted among the student's cells
        cell.metadata["videokit_grading"] = {"index": index}
        if cell.cell_type == "code":
            cell.source = "\n".join(map(_without_grader_calls, cell.source.splitlines()))
        cells.append(cell)
    first = nbformat.v4.new_code_cell(
        f"import videokit.grading\n{guard} = videokit.grading._KernelGuard({float(timeout)!r}, {int(max_output)!r})\n"
        f"{check} = {guard}.check_question"
    )
    last = [nbformat.v4.new_code_cell(f"{guard}.finish_student_cells()")]
    last += [nbformat.v4.new_code_cell(f"{_CHECK_MARKER}\n{check}({test!r}, globals())") for test in tests]
    notebook.cells = [first, *cells, *last]
    return notebook


def _without_grader_calls(line):
    if _GRADER_CALL.match(line):
        return "pass  # grader call skipped by the autograder"
    return _GRADER_INIT.sub(r"\1()", line)


# --------------------------------------------------------------------------- grading: kernel side


class _KernelGuard:
    """Runs inside the student's kernel during grading (created by the first cell `guard_notebook` adds)."""

    def __init__(self, timeout, max_output):
        import builtins

        from IPython import get_ipython
        from otter.execute import Checker
        from otter.nbmeta_config import NBMetadataConfig
        from otter.test_files import create_test_file
        from otter.test_files.abstract_test import TestCaseResult

        self.timeout, self.max_output = timeout, max_output
        self.checker, self.create_test_file = Checker, create_test_file
        self.metadata_config, self.case_result = NBMetadataConfig, TestCaseResult
        self.shell = get_ipython()
        self.saved = [(obj, dict(vars(obj))) for obj in self._protected(builtins, Checker)]
        self.saved_modules = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "otter"}
        self.written = 0
        self.has_alarm = hasattr(signal, "setitimer")
        if self.shell is not None:
            self.shell.events.register("pre_run_cell", self._before_cell)
            self.shell.events.register("post_run_cell", self._after_cell)
            self.shell.ask_exit = self._refuse_exit
        for stream in (sys.stdout, sys.stderr):
            self._cap(stream)

    @staticmethod
    def _protected(builtins, checker):
        import pickle

        import otter.test_files as test_files
        from otter.test_files import abstract_test, exception_test

        return [builtins, pickle, signal, checker, test_files, abstract_test, abstract_test.TestFile,
                exception_test, exception_test.ExceptionTestFile, exception_test.test_case]

    # Time limit and output cap of every cell.

    def _on_alarm(self, signum, frame):
        raise TimeoutError(f"stopped by the autograder: over the time limit of {self.timeout:g} s")

    def _arm(self, seconds):
        if self.has_alarm:
            signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)

    def _disarm(self):
        if self.has_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _before_cell(self, info=None):
        self.written = 0
        source = getattr(info, "raw_cell", "") or ""
        if _CHECK_MARKER not in source and _EXPORT_MARKER not in source:
            self._arm(self.timeout)

    def _after_cell(self, result=None):
        self._disarm()

    def _refuse_exit(self, *args, **kwargs):
        raise RuntimeError("exit() and quit() are disabled while the autograder runs this notebook")

    def _cap(self, stream):
        write = stream.write

        def capped_write(text):
            room = self.max_output - self.written
            self.written += len(text)
            if room > 0:
                write(text[:room])
                if len(text) > room:
                    write(f"\n[output cut by the autograder after {self.max_output:,} characters]\n")
            return len(text)

        try:
            stream.write = capped_write
        except AttributeError:  # A stream type that does not allow it; leave it uncapped.
            pass

    # After the student's cells: undo their changes to what grading uses, then test each question.

    def finish_student_cells(self):
        for obj, saved in self.saved:
            if isinstance(obj, type):
                for name, value in saved.items():
                    if name not in ("__dict__", "__weakref__"):
                        try:
                            setattr(obj, name, value)
                        except (AttributeError, TypeError):
                            pass
            else:
                vars(obj).update(saved)
        sys.modules.update(self.saved_modules)
        self.checker.clear_results()
        self.checker.enable_tracking()

    def check_question(self, test_path, environment):
        """Runs the test cases of one question file, each with the time limit, and records the result."""
        test_file = self.create_test_file(test_path, self.metadata_config())
        results = []
        for case in test_file.test_cases:
            passed, message = self._run_case(case, environment, test_file)
            results.append(self.case_result(test_case=case, message=message, passed=passed))
        test_file.test_case_results = results
        self.checker.get_results().append(test_file)

    def _run_case(self, case, environment, test_file):
        try:
            try:
                self._arm(self.timeout)
                case.body.call_func(environment)
                self._disarm()
                return True, "✅ Test case passed"
            except BaseException as error:  # Whatever the student's code raises fails this case only.
                self._disarm()
                return False, "❌ Test case failed\n" + self._error_message(error, test_file)
        except BaseException as error:  # The time limit hit while recording the result.
            self._disarm()
            return False, f"❌ Test case failed\n{type(error).__name__}: {error}"

    @staticmethod
    def _error_message(error, test_file):
        try:
            return test_file._generate_error_message(error)
        except Exception:
            return f"{type(error).__name__}: {error}"
