"""Reports: the score table, ``grades.json``/``grades.csv``, and the journal that ``--resume`` reads.

Every result is appended to the journal (``grades.jsonl``, one JSON object per
line, flushed to disk) as soon as it is known, so a batch that is interrupted
loses nothing already graded.
"""

import csv
import json
import os
import pathlib
import threading
import time

from videokit.grading.masters import otter_version
from videokit.grading.scoring import SubmissionResult

REPORT_NAMES = ("grades.json", "grades.csv")
JOURNAL_NAME = "grades.jsonl"


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
    """Writes ``grades.json`` (every test, hidden ones by name only) and ``grades.csv`` (one row per notebook).

    Args:
        results: `SubmissionResult`s.
        output: the reports' folder.

    Returns:
        The paths of ``grades.json`` and ``grades.csv``.
    """
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = (output / name for name in REPORT_NAMES)
    report = {
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "otter_grader": otter_version(),
        "sandboxed": all(result.sandboxed for result in results),
        "notebooks": [result.to_dict() for result in results],
    }
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    questions = sorted({question.name for result in results for question in result.questions}, key=_question_order)
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["notebook", "exercise", "status", "score", "max_score", "percent", *questions,
                         "cell_errors", "error", "sandboxed"])
        for result in results:
            scores = {question.name: question.score for question in result.questions}
            writer.writerow([
                result.path, result.exercise, result.status, result.score, result.max_score, round(result.percent, 2),
                *(scores.get(name, "") for name in questions), len(result.cell_errors), result.error, result.sandboxed,
            ])
    return json_path, csv_path


class Journal:
    """The grading journal of an output folder: one line per graded (or ungradable) notebook.

    Args:
        output: the reports' folder.
        resume: keep the lines of an earlier run (``--resume``); otherwise start an empty journal.
    """

    def __init__(self, output, resume=False):
        self.path = pathlib.Path(output) / JOURNAL_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done = read_journal(self.path) if resume else {}
        if not resume:
            self.path.write_text("", encoding="utf-8")
        self._lock = threading.Lock()

    def earlier(self, path, sha256):
        """The earlier result of the notebook at `path` with content `sha256`, or None."""
        return self.done.get((str(path), sha256))

    def append(self, result):
        """Appends `result` to the journal and flushes it to disk."""
        line = json.dumps(result.to_dict()) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())


def read_journal(path):
    """The results of a journal, by (notebook path, content hash); a torn last line is skipped."""
    done = {}
    path = pathlib.Path(path)
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            result = SubmissionResult.from_dict(json.loads(line))
        except (ValueError, TypeError, KeyError):
            continue
        done[(result.path, result.sha256)] = result
    return done
