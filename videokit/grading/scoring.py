"""Phase 2: scores a submission from the sandbox's report, in the trusted grader process.

The worker's JSON report is untrusted data: only its pass/fail flags are
read, test by test, against the question plan taken from the master (names,
which tests are hidden, points). Scores are recomputed from the master's
points, so a report cannot add questions, tests or points; hidden tests are
reported by name only, never with their code, their message or expected values.
"""

import dataclasses

MAX_MESSAGE_CHARS = 600
MAX_CELL_ERRORS = 50


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
    sandboxed: bool = True
    sha256: str = ""

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

    @classmethod
    def from_dict(cls, data):
        """The result written by `to_dict` (a line of the grading journal)."""
        fields = {field.name for field in dataclasses.fields(cls)}
        result = cls(**{name: value for name, value in data.items() if name in fields})
        result.questions = [QuestionResult(**question) for question in result.questions]
        return result


def _text(value, limit):
    return value[:limit] if isinstance(value, str) else ""


def _reported_tests(report, question):
    """The test entries the worker reported for `question`, or ``[]`` when the report says nothing usable."""
    questions = report.get("questions") if isinstance(report, dict) else None
    for entry in questions if isinstance(questions, list) else []:
        if isinstance(entry, dict) and entry.get("name") == question and isinstance(entry.get("tests"), list):
            return entry["tests"]
    return []


def score_question(question, plan_cases, reported):
    """One question's result: the master's cases, passed where the report says exactly ``True``."""
    tests = []
    for index, case in enumerate(plan_cases):
        entry = reported[index] if index < len(reported) and isinstance(reported[index], dict) else {}
        passed = len(reported) == len(plan_cases) and entry.get("passed") is True
        if case["hidden"]:
            message = "passed" if passed else f"hidden test {case['name']} failed"
        else:
            message = _text(entry.get("message"), MAX_MESSAGE_CHARS) or ("passed" if passed else "failed")
        tests.append({"name": case["name"], "hidden": case["hidden"], "points": case["points"], "passed": passed,
                      "message": message})
    score = sum(test["points"] for test in tests if test["passed"])
    return QuestionResult(question, float(score), float(sum(case["points"] for case in plan_cases)), tests)


def score_report(result, report, plan):
    """Fills `result` (a `SubmissionResult`) from the worker's `report` and the master's `plan`.

    Args:
        result: the submission's `SubmissionResult`.
        report: the worker's report as read from JSON (anything: it is checked here).
        plan: ``masters.question_plan`` of the submission's master.

    Returns:
        `result`, with its questions, cell errors and, when the worker failed, its error.
    """
    report = report if isinstance(report, dict) else {}
    result.questions = [score_question(name, cases, _reported_tests(report, name)) for name, cases in plan.items()]
    errors = report.get("cell_errors")
    result.cell_errors = [
        {"cell": error["cell"], "error": _text(error.get("error"), 300)}
        for error in (errors if isinstance(errors, list) else [])[:MAX_CELL_ERRORS]
        if isinstance(error, dict) and isinstance(error.get("cell"), int)
    ]
    if report.get("error"):
        result.status, result.error = "error", _text(report["error"], 1500) or "the grading worker failed"
    return result
