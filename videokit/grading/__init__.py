"""Graded exercises: student notebooks from solution masters, and grading in a sandbox.

The exercise sets are otter-grader master notebooks in ``solutions/``
(otter-assign format, solutions and hidden tests included). A submission is
graded in two phases, in two processes; the package is split by the process
each part runs in:

* ``masters`` (trusted): exercise sets, ``write_exercises`` (``tools/make_exercises.py``),
  the autograders built from the masters, each master's question plan (names,
  hidden or not, points), its test functions and the names its solutions define.
* ``plans`` (trusted, phase 0): the inputs of every test, recorded once per master
  by running its tests on its own answers (``export.record_tests``), cached and
  verified by hash.
* ``colab`` (student's kernel): ``prepare_colab``, for ``grader.check`` on Colab.
* ``batch`` (trusted): ``grade`` (``videokit grade``) runs each submission in
  ``sandbox`` (bubblewrap, resource limits, wall limit), then checks and scores it.
* ``worker``, ``kernel`` and ``export`` (phase 1, inside the sandbox, untrusted): the
  notebook runs in a guarded kernel, then its answers are called on the recorded
  inputs and exported as plain data (``plaindata``: JSON and NumPy arrays, no pickles).
* ``checker`` (phase 2, a fresh trusted process): the master's tests run on the
  exported plain data, with ``calls.Replay`` for function answers and
  ``checks.ExportedModel`` for models; ``checks`` also holds the helpers the
  masters' model tests use (``is_model``, ``class_name``, ``all_layers``).
* ``scoring`` (trusted): the checker's results against the master's question plan.
* ``reports`` (trusted): the table, ``grades.json``/``grades.csv`` and the
  ``grades.jsonl`` journal that ``--resume`` reads.

Nothing here is imported by ``import videokit``; this module imports only
the standard library at import time (otter-grader and nbformat are imported
where they are needed), so the kernel-side helpers load quickly.
"""

from videokit.grading.batch import (
    GradingError,
    SandboxUnavailable,
    collect_notebooks,
    default_wall_limit,
    grade,
    identify_exercise,
)
from videokit.grading.colab import prepare_colab
from videokit.grading.kernel import DEFAULT_TIMEOUT, GradingGuard, guard_notebook
from videokit.grading.masters import (
    autograder_zip,
    exercise_sets,
    otter_version,
    question_plan,
    stale_exercises,
    student_notebook,
    write_exercises,
)
from videokit.grading.reports import REPORT_NAMES, format_score, format_table, read_journal, write_reports
from videokit.grading.sandbox import Limits, sandbox_problem
from videokit.grading.scoring import QuestionResult, SubmissionResult

__all__ = [
    "DEFAULT_TIMEOUT", "REPORT_NAMES", "GradingError", "GradingGuard", "Limits", "QuestionResult",
    "SandboxUnavailable", "SubmissionResult", "autograder_zip", "collect_notebooks", "default_wall_limit",
    "exercise_sets", "format_score", "format_table", "grade", "guard_notebook", "identify_exercise",
    "otter_version", "prepare_colab", "question_plan", "read_journal", "sandbox_problem", "stale_exercises",
    "student_notebook", "write_exercises", "write_reports",
]
