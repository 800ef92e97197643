"""Phase 2: the master's tests, run on a submission's exported answers in a fresh trusted process.

Started by the grader as ``python -m videokit.grading.checker MASTER GIVEN ANSWERS TIMEOUT``
(no sandbox: no student code ever runs here). It reads the submission's
``answers.npz`` strictly as plain data (``plaindata.decode``); a file that is
not plain data, or an answer that is missing, fails the tests that need it,
never the batch. Each test of the master then runs as written, with its
parameters bound to:

* a value answer: the exported value (numbers, strings, lists, dicts, tuples, arrays);
* a function answer: a `calls.Replay`, which returns the student's output for each
  call the test makes, computed by the sandbox on the same inputs;
* a model answer: a `checks.ExportedModel` (config, weights, replayed outputs);
* a given name (not an answer): the master's value.

Prints one JSON line: ``{"questions": [{"name", "tests": [{"name", "passed", "message"}]}], "error"}``;
the grader scores it against the master's question plan (``scoring.py``).
"""

import json
import pathlib
import signal
import sys

from videokit.grading import masters, plaindata
from videokit.grading.calls import Replay
from videokit.grading.checks import ExportedModel

MAX_MESSAGE_CHARS = 600


def _answers(path):
    """The submission's exported answers by test, or ``({}, error)`` when the file is not plain data."""
    try:
        data = plaindata.decode(pathlib.Path(path).read_bytes())
    except (OSError, plaindata.InvalidData) as error:
        return {}, {}, f"the answers could not be read: {error}"[:300]
    tests = data.get("tests") if isinstance(data, dict) else None
    models = data.get("models") if isinstance(data, dict) else None
    by_test = {}
    for entry in tests if isinstance(tests, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("answers"), dict):
            by_test.setdefault(entry["name"], entry["answers"])
    return by_test, models if isinstance(models, dict) else {}, ""


class _Unanswered(Exception):
    pass


def _argument(name, kind, signatures, exported, models):
    """The value a test gets for the answer `name` (raises `_Unanswered` with the reason)."""
    if not isinstance(exported, dict):
        raise _Unanswered(f"{name}: no answer exported")
    if isinstance(exported.get("error"), plaindata.Error):
        raise _Unanswered(f"{name}: {exported['error'].message}")
    if kind == "value":
        if "value" not in exported:
            raise _Unanswered(f"{name}: no answer exported")
        if isinstance(exported["value"], plaindata.Error):
            raise _Unanswered(f"{name}: {exported['value'].message}")
        return exported["value"]
    outputs = exported.get("outputs")
    if not isinstance(outputs, list):
        raise _Unanswered(f"{name}: no outputs exported")
    by_method = {}
    for (method, call_signature), output in zip(signatures, outputs):
        entry = by_method.setdefault(method, ([], []))
        entry[0].append(output)
        entry[1].append(call_signature)
    replays = {method: Replay(name, *entry) for method, entry in by_method.items()}
    if kind == "function":
        return replays.get("__call__", Replay(name, [], []))
    summary = models.get(name)
    if not isinstance(summary, dict):
        raise _Unanswered(f"{name}: the model was not exported")
    weights = summary.get("weights")
    if not isinstance(weights, list) or not all(hasattr(weight, "shape") for weight in weights):
        raise _Unanswered(f"{name}: the model's weights were not exported")
    for method in ("predict", "__call__"):
        replays.setdefault(method, Replay(name, [], []))
    return ExportedModel(summary, weights, replays)


def _on_alarm(signum, frame):
    raise TimeoutError("the test ran past its time limit")


def run_test(test, check, given, answers, models, timeout):
    """Runs one test; returns ``(passed, message)``."""
    if check.get("failure"):
        return False, check["failure"]
    arguments = {}
    try:
        for name in test["params"]:
            if name in check["kinds"]:
                arguments[name] = _argument(name, check["kinds"][name], check["signatures"][name],
                                            answers.get(name), models)
            elif name in given:
                arguments[name] = given[name]
            else:
                raise _Unanswered(f"{name}: not defined")
    except _Unanswered as reason:
        return False, str(reason)
    namespace = {"__name__": "videokit_grading_test"}
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        exec(compile(test["source"], f"<{test['name']}>", "exec"), namespace)
        namespace[test["name"]](**arguments)
    except Exception as error:  # any failure of the test on these answers: the test fails
        return False, f"{type(error).__name__}: {error}"[:MAX_MESSAGE_CHARS]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return True, "passed"


def check_submission(master, given_path, answers_path, timeout):
    """The phase 2 report of one submission (see the module docstring)."""
    given = plaindata.decode(pathlib.Path(given_path).read_bytes(), trusted=True)
    checks = {check["name"]: check for check in given["tests"]}
    answers, models, error = _answers(answers_path)
    questions = {}
    for test in masters.test_cells(master):
        check = checks.get(test["name"], {"failure": "the grader has no record of this test"})
        passed, message = run_test(test, check, given["given"], answers.get(test["name"], {}), models, timeout)
        if error and not check.get("failure"):
            passed, message = False, error
        questions.setdefault(test["question"], []).append({"name": test["name"], "passed": passed,
                                                           "message": message})
    return {"questions": [{"name": name, "tests": tests} for name, tests in questions.items()], "error": ""}


def main(argv=None):
    master, given_path, answers_path, timeout = argv or sys.argv[1:]
    report = check_submission(master, given_path, answers_path, float(timeout))
    sys.stdout.write("\n" + json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
