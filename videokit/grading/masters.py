"""Exercise sets: the otter-assign masters in ``solutions/``, the student notebooks, the autograders.

Runs in the trusted grader process only. The autograder of a set (its hidden
tests) is built once per master content, cached outside the checkout, and
verified against the hash recorded beside it before each use.
"""

import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile

OTTER_REQUIREMENT = "otter-grader>=7,<8"
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[2]

_SET_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+$")
_POINTS = re.compile(r"^points:\s*(.+)$", re.MULTILINE)
_QUESTION_NAME = re.compile(r"^name:\s*(\S+)", re.MULTILINE)


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


def import_otter():
    """Imports otter-grader, or says how to install it."""
    try:
        import otter
    except ImportError as error:
        raise ImportError(
            f"grading needs otter-grader: pip install \"{OTTER_REQUIREMENT}\" (or pip install -e \".[course]\")"
        ) from error
    return otter


def otter_version():
    return import_otter().__version__


def run_otter_assign(master, result_dir):
    """Runs ``otter assign`` on `master`; returns the paths of the student notebook and the autograder zip."""
    import_otter()
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


def question_plan(master):
    """The graded questions of `master`, from its otter-assign cells, as the grader trusts them.

    Args:
        master: path of a master notebook.

    Returns:
        ``{question: [{"name", "hidden", "points"}, ...]}``, one entry per test cell in order;
        hidden tests are named by their test function (the master's words, never its code).

    Raises:
        ValueError: when a question's ``points`` is not a list with one number per test cell.
    """
    notebook = json.loads(pathlib.Path(master).read_text(encoding="utf-8"))
    plan, points, question, in_tests = {}, {}, None, False
    for cell in notebook["cells"]:
        text = "".join(cell["source"]).strip()
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            question = _QUESTION_NAME.search(text).group(1)
            found = _POINTS.search(text)
            plan[question], points[question] = [], json.loads(found.group(1)) if found else None
        elif cell["cell_type"] == "raw" and text in ("# BEGIN TESTS", "# END TESTS"):
            in_tests = text == "# BEGIN TESTS"
        elif cell["cell_type"] == "code" and in_tests and question is not None:
            function = re.search(r"def (test_\w+)", text)
            name = function.group(1) if function else f"{question} test {len(plan[question]) + 1}"
            plan[question].append({"name": name, "hidden": text.startswith("# HIDDEN")})
    for question, cases in plan.items():
        given = points[question]
        if not isinstance(given, list) or len(given) != len(cases):
            raise ValueError(f"{master}: question {question} has {len(cases)} test cells; expected "
                             f"'points: [...]' with one number per test cell, got {given!r}")
        for case, value in zip(cases, given):
            case["points"] = float(value)
    return plan


def cache_dir():
    """Where built autograders are kept: ``$VIDEOKIT_CACHE_DIR/autograders`` or ``~/.cache/videokit/autograders``."""
    base = os.environ.get("VIDEOKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "videokit"
    )
    return pathlib.Path(base) / "autograders"


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def autograder_zip(master):
    """The otter autograder zip (hidden tests included) of `master`, built once per master content.

    The zip's SHA-256 is kept beside it; a cached zip that no longer matches
    (changed by anyone after it was built) is rebuilt.

    Returns:
        The path of the verified zip in the cache.
    """
    master = pathlib.Path(master)
    digest = hashlib.sha256(master.read_bytes() + otter_version().encode()).hexdigest()[:16]
    target = cache_dir() / f"{master.stem}-{digest}.zip"
    recorded = target.with_suffix(".sha256")
    if target.is_file() and recorded.is_file() and recorded.read_text().strip() == _sha256(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videokit-assign-") as folder:
        _, built = run_otter_assign(master, folder)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(built, partial)
        hash_partial = recorded.with_suffix(f".{os.getpid()}.sha")
        hash_partial.write_text(_sha256(partial) + "\n")
        os.replace(partial, target)
        os.replace(hash_partial, recorded)
    return target


def verified_copy(zip_path, folder):
    """Copies an autograder zip into `folder` and checks the copy against the hash recorded at build time.

    Raises:
        ValueError: when the copy's SHA-256 differs from the recorded one.
    """
    zip_path = pathlib.Path(zip_path)
    copy = pathlib.Path(folder) / "autograder.zip"
    shutil.copyfile(zip_path, copy)
    expected = zip_path.with_suffix(".sha256").read_text().strip()
    if _sha256(copy) != expected:
        raise ValueError(f"{zip_path}: expected SHA-256 {expected}, the file has another; delete it to rebuild it.")
    return copy


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


def test_cells(master):
    """The tests of `master`, in order: ``[{"question", "name", "hidden", "source", "params"}]``.

    ``source`` is the test function's definition alone (the call after it and
    the ``# HIDDEN`` line left out); ``params`` are the notebook names it takes.
    Read by the trusted side only: phase 0 runs these on the master's answers,
    phase 2 on the submission's exported ones. They never enter the sandbox.
    """
    import ast

    notebook = json.loads(pathlib.Path(master).read_text(encoding="utf-8"))
    tests, question, in_tests = [], None, False
    for cell in notebook["cells"]:
        text = "".join(cell["source"]).strip()
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            question = _QUESTION_NAME.search(text).group(1)
        elif cell["cell_type"] == "raw" and text in ("# BEGIN TESTS", "# END TESTS"):
            in_tests = text == "# BEGIN TESTS"
        elif cell["cell_type"] == "code" and in_tests and question is not None:
            function = next(node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef))
            tests.append({"question": question, "name": function.name, "hidden": text.startswith("# HIDDEN"),
                          "source": ast.get_source_segment(text, function),
                          "params": [argument.arg for argument in function.args.args]})
    return tests


def answer_names(master):
    """The names that the solution cells of `master` define: the answers a test may take from a submission.

    A test's other parameters (data the notebook gives, like validation clips)
    are taken from the master, never from the submission.
    """
    import ast

    notebook = json.loads(pathlib.Path(master).read_text(encoding="utf-8"))
    names, in_solution = set(), False
    for cell in notebook["cells"]:
        text = "".join(cell["source"]).strip()
        if cell["cell_type"] == "raw" and text in ("# BEGIN SOLUTION", "# END SOLUTION"):
            in_solution = text == "# BEGIN SOLUTION"
        elif cell["cell_type"] == "code" and in_solution:
            for node in ast.parse(text).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                for target in getattr(node, "targets", [getattr(node, "target", None)]):
                    names |= {name.id for name in ast.walk(target) if isinstance(name, ast.Name)} if target else set()
    return names
