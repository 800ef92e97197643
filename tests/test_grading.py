"""The graded exercises: masters, student notebooks, and `videokit grade` on real submissions.

Grading runs every notebook in a Jupyter kernel of its own, and the kernels of the Keras exercise
sets start TensorFlow, so the notebooks are graded in two module-scoped batches, two at a time:
the solution masters with the untouched student notebooks, and the submissions of
``tests/fixtures/submissions/`` (through the ``videokit grade`` command).
"""

import contextlib
import csv
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

pytest.importorskip("otter", reason="the exercises need otter-grader: pip install -e '.[course]'")

from videokit import cli, grading  # noqa: E402

# The exercises are graded once per test run: the JAX pass leaves this module out.
pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]  # runs notebooks in kernels

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
MASTERS = grading.exercise_sets(SOLUTIONS)
# Graded in the sandbox where bubblewrap works (CI); elsewhere without it, and
# test_grading_sandbox.py::test_linux_machines_have_bubblewrap fails on Linux.
NO_SANDBOX = ["--no-sandbox"] if grading.sandbox_problem() else []


@pytest.fixture(scope="module")
def autograder_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDEOKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def graded_sets(autograder_cache):
    """Every master and every untouched student notebook, graded: {(kind, set name): result}."""
    notebooks = {("master", name): path for name, path in MASTERS.items()}
    notebooks |= {("untouched", name): EXERCISES / f"{name}.ipynb" for name in MASTERS}
    results = grading.grade(list(notebooks.values()), jobs=2, sandboxed=not NO_SANDBOX)
    return dict(zip(notebooks, results))


@pytest.fixture(scope="module")
def graded_submissions(autograder_cache, tmp_path_factory):
    """``videokit grade tests/fixtures/submissions``: exit code, printed table, JSON and CSV reports."""
    output = tmp_path_factory.mktemp("grades")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        exit_code = cli.main(["grade", str(SUBMISSIONS), "--output", str(output), "--timeout", "8", "--jobs", "2",
                              *NO_SANDBOX])
    report = json.loads((output / "grades.json").read_text())
    by_name = {pathlib.Path(entry["path"]).name: entry for entry in report["notebooks"]}
    with open(output / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return {"exit_code": exit_code, "table": printed.getvalue(), "results": by_name, "csv": rows}


def master_parts(master):
    """Per question: its visible and hidden test cells and solution lines; and the public code lines.

    Public lines are those the student notebook may show: every line of the master's code cells
    outside the hidden tests and the solutions.
    """
    notebook = nbformat.read(master, as_version=4)
    questions, public, question, block = {}, set(), None, None
    for cell in notebook.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw":
            if text.startswith("# BEGIN QUESTION"):
                question = re.search(r"name:\s*(\S+)", text).group(1)
                questions[question] = {"visible": [], "hidden": [], "solution": []}
            elif text in ("# BEGIN SOLUTION", "# BEGIN TESTS"):
                block = text.split()[-1]
            elif text in ("# END SOLUTION", "# END TESTS", "# END QUESTION"):
                block = None
        elif cell.cell_type == "code" and block == "TESTS":
            hidden = text.startswith("# HIDDEN")
            questions[question]["hidden" if hidden else "visible"].append(text)
            public |= set() if hidden else {line.strip() for line in text.splitlines()}
        elif cell.cell_type == "code":
            solution, rest = split_solution(cell.source) if block == "SOLUTION" else ([], cell.source.splitlines())
            if solution:
                questions[question]["solution"] += solution
            public |= {line.strip() for line in rest}
    return questions, public


def split_solution(source):
    """The solution lines of a solution cell, and its other lines."""
    solution, rest, inside = [], [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = stripped == "# BEGIN SOLUTION"
        elif inside or stripped.endswith("# SOLUTION"):
            solution.append(stripped.removesuffix("# SOLUTION").strip())
        else:
            rest.append(line)
    return solution, rest


# --------------------------------------------------------------------------- the exercise sets


def test_one_exercise_set_per_course_notebook():
    course = [path.stem for path in sorted((ROOT / "notebooks").glob("*.ipynb")) if 1 <= int(path.stem[:2]) <= 11]
    assert course, "no course notebooks found"
    missing = [name for name in course if name not in MASTERS]
    assert not missing, f"course notebooks without an exercise set in solutions/: {missing}"
    assert [f"{number:02d}" for number in range(1, 10)] == [name[:2] for name in MASTERS][:9]


@pytest.mark.parametrize("name", sorted(MASTERS))
def test_master_has_graded_questions_a_colab_badge_and_setup(name):
    questions, _ = master_parts(MASTERS[name])
    assert len(questions) >= 3, f"{name}: at least three graded questions"
    for question, parts in questions.items():
        assert parts["visible"] and parts["hidden"], f"{name} {question}: visible and hidden tests"
        assert parts["solution"], f"{name} {question}: a solution"
    notebook = nbformat.read(MASTERS[name], as_version=4)
    sources = [cell.source for cell in notebook.cells]
    badge = f"https://colab.research.google.com/github/videokit-course/videokit/blob/main/exercises/{name}.ipynb"
    assert notebook.cells[1].cell_type == "markdown" and badge in sources[1], f"{name}: title cell with the Colab badge"
    assert 'if "google.colab" in sys.modules:' in sources[2] and "otter-grader" in sources[2], f"{name}: Colab setup"
    assert f'prepare_colab("{name}")' in sources[2]
    assert f'grader = otter.Notebook("{name}.ipynb")' in sources[3]


def test_exercises_are_generated_from_the_masters():
    assert sorted(path.stem for path in EXERCISES.glob("*.ipynb")) == sorted(MASTERS), "one exercise per master"
    stale = grading.stale_exercises(SOLUTIONS, EXERCISES)
    assert not stale, f"out of date, run python tools/make_exercises.py: {[str(path) for path in stale]}"


def test_student_files_hold_no_solution_and_no_hidden_test():
    shipped_package = "\n".join(path.read_text() for path in (ROOT / "videokit").rglob("*.py"))
    for name, master in MASTERS.items():
        exercise = nbformat.read(EXERCISES / f"{name}.ipynb", as_version=4)
        student_text = "\n".join(cell.source for cell in exercise.cells) + json.dumps(exercise.metadata)
        questions, public = master_parts(master)
        assert "hidden=True" not in json.dumps(exercise.metadata), f"{name}: a hidden test in the student notebook"

        def secret(line):
            return len(line) > 20 and not any(line in public_line for public_line in public)

        for question, parts in questions.items():
            for test in parts["hidden"]:
                function = re.search(r"def (test_\w+)", test).group(1)
                assert function not in student_text and function not in shipped_package, f"{name}: {function} leaked"
                for line in filter(secret, map(str.strip, test.splitlines())):
                    assert line not in student_text, f"{name} {question}: hidden test line in exercises/: {line}"
            for line in filter(secret, parts["solution"]):
                assert line not in student_text, f"{name} {question}: solution line in exercises/: {line}"


def test_guard_skips_the_students_grader_calls():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('import otter\ngrader = otter.Notebook("01_convolution.ipynb")'),
        nbformat.v4.new_code_cell('x = 1\ngrader.check("q1")\ngrader.check_all()'),
    ])
    guarded = grading.guard_notebook(notebook, ["export_the_answers()"], timeout=5)
    sources = [cell.source for cell in guarded.cells]
    assert "grader = otter.Notebook()" in sources[1]
    assert "grader.check" not in sources[2] and "x = 1" in sources[2]
    assert "finish_student_cells()" in sources[3] and sources[4] == "export_the_answers()", "restore, then export"
    assert "KernelGuard(5.0" in sources[0]


def test_grader_check_works_in_exercises_and_on_colab(tmp_path):
    """`grader.check` with the tests in the notebook metadata (exercises/), and on a simulated Colab."""
    local, colab = tmp_path / "local", tmp_path / "colab"
    local.mkdir()
    colab.mkdir()
    shutil.copy(EXERCISES / "01_convolution.ipynb", local)
    script = textwrap.dedent('''
        import os, pathlib
        import otter, otter.check.utils


        def conv_output_size(size, kernel_size, stride=1, padding="valid", dilation=1):
            if padding == "same":
                return -(-size // stride)
            return (size - dilation * (kernel_size - 1) - 1) // stride + 1


        os.chdir(LOCAL)
        grader = otter.Notebook("01_convolution.ipynb")
        assert not os.path.exists("tests")
        assert grader.check("q1").grade == 1
        right, conv_output_size = conv_output_size, lambda *args, **kwargs: 0
        assert grader.check("q1").grade == 0


        class ColabShell:  # otter recognises Colab by the class of the IPython shell
            def __repr__(self):
                return "<google.colab._shell.Shell object>"


        otter.check.utils.get_ipython = ColabShell
        os.chdir(COLAB)
        from videokit.grading import prepare_colab

        prepare_colab("01_convolution", url=pathlib.Path(EXERCISE).as_uri())
        grader = otter.Notebook("01_convolution.ipynb")
        assert grader.check("q1").grade == 0
        conv_output_size = right
        assert grader.check("q1").grade == 1
        print("ok", sorted(os.listdir("tests")))
    ''')
    for name, value in [("LOCAL", local), ("COLAB", colab), ("EXERCISE", EXERCISES / "01_convolution.ipynb")]:
        script = script.replace(name, repr(str(value)))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok ['q1.py', 'q2.py', 'q3.py', 'q4.py']"
    assert "hidden=True" not in (colab / "tests" / "q1.py").read_text()


# --------------------------------------------------------------------------- grading


@pytest.mark.parametrize("name", sorted(MASTERS))
def test_master_scores_full_marks(graded_sets, name):
    result = graded_sets[("master", name)]
    assert result.status == "graded", result.error
    assert result.max_score > 0 and result.score == result.max_score, grading.format_score(result)
    failed = [test["message"] for question in result.questions for test in question.tests if not test["passed"]]
    assert not failed and not result.cell_errors, (failed, result.cell_errors)


@pytest.mark.parametrize("name", sorted(MASTERS))
def test_untouched_exercise_scores_zero(graded_sets, name):
    result = graded_sets[("untouched", name)]
    master = graded_sets[("master", name)]
    assert result.status == "graded", result.error
    assert result.score == 0 and result.max_score == master.max_score
    assert not result.cell_errors, f"{name}: an untouched exercise must run top to bottom: {result.cell_errors}"
    assert [question.name for question in result.questions] == [question.name for question in master.questions]


def question_scores(entry):
    return {question["name"]: (question["score"], question["max_score"]) for question in entry["questions"]}


def visible_points(entry, question):
    (found,) = [item for item in entry["questions"] if item["name"] == question]
    return sum(test["points"] for test in found["tests"] if not test["hidden"])


def test_partial_submission_scores_exactly_its_completed_questions(graded_submissions):
    entry = graded_submissions["results"]["partial.ipynb"]
    scores = question_scores(entry)
    assert entry["status"] == "graded"
    assert scores["q1"][0] == scores["q1"][1] and scores["q3"][0] == scores["q3"][1]
    assert scores["q2"][0] == scores["q4"][0] == 0
    assert entry["score"] == scores["q1"][1] + scores["q3"][1]


@pytest.mark.parametrize(
    "submission, lost, cell_error",
    [
        ("raises.ipynb", {"q2"}, "exit() and quit() are disabled"),  # raises in three cells, calls exit()
        ("loops_forever.ipynb", {"q2"}, "TimeoutError"),  # a cell and q2's function loop forever
        ("prints_megabytes.ipynb", set(), None),  # prints 21 MB
        ("01_deleted_and_reordered.ipynb", {"q4"}, None),  # no metadata, cells deleted, imports moved last
    ],
)
def test_misbehaving_submission_gets_the_score_of_what_it_answered(graded_submissions, submission, lost, cell_error):
    entry = graded_submissions["results"][submission]
    assert entry["status"] == "graded", entry["error"]
    assert entry["exercise"] == "01_convolution"
    for question, (score, max_score) in question_scores(entry).items():
        assert score == (0 if question in lost else max_score), f"{submission} {question}: {score} / {max_score}"
    errors = " ".join(error["error"] for error in entry["cell_errors"])
    assert cell_error is None or cell_error in errors


def test_redefined_grader_helpers_change_nothing(graded_submissions):
    """Fakes grader.check, patches otter's checker and print; question 4 hard-codes the visible examples."""
    entry = graded_submissions["results"]["redefines_helpers.ipynb"]
    scores = question_scores(entry)
    assert entry["status"] == "graded", entry["error"]
    assert all(scores[question][0] == scores[question][1] for question in ("q1", "q2", "q3"))
    assert 0 < visible_points(entry, "q4") == scores["q4"][0] < scores["q4"][1], "the hidden tests of q4 fail"


def test_grade_command_reports_ungradable_files_and_grades_the_rest(graded_submissions):
    results = graded_submissions["results"]
    assert graded_submissions["exit_code"] == 1, "some files could not be graded"
    assert "not a Jupyter notebook" in results["not_a_notebook.ipynb"]["error"]
    assert "unknown exercise set" in results["unknown_set.ipynb"]["error"]
    assert sum(entry["status"] == "graded" for entry in results.values()) == 6
    table = graded_submissions["table"]
    assert re.search(r"partial\.ipynb\s+01_convolution\s+5/5\s+0/3\s+3/3\s+0/3\s+8 / 14\s+57\.1", table), table
    assert table.count("error:") == 2
    rows = {pathlib.Path(row["notebook"]).name: row for row in graded_submissions["csv"]}
    assert len(rows) == 8 and rows["partial.ipynb"]["score"] == "8.0" and rows["partial.ipynb"]["q3"] == "3.0"


def test_python_m_videokit_grade_exit_code(tmp_path):
    """Exit code 1 and a report when the grader could not grade a file; 2 for a missing path."""
    environment = dict(os.environ, VIDEOKIT_CACHE_DIR=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "videokit", "grade", "--output", str(tmp_path / "out"), *NO_SANDBOX,
               str(SUBMISSIONS / "ungradable" / "not_a_notebook.ipynb")]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error: not a Jupyter notebook" in result.stdout
    assert (tmp_path / "out" / "grades.json").is_file() and (tmp_path / "out" / "grades.csv").is_file()
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        assert cli.main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert "no such file" in errors.getvalue()
