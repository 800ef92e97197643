"""The grading worker: ``otter`` runs one submission with its tests, inside the sandbox.

Started by ``sandbox.run`` as ``python -m videokit.grading.worker
AUTOGRADER_ZIP SUBMISSION REPORT_FD``; the report goes to the file descriptor
REPORT_FD (a pipe). Everything here shares the sandbox with the student's code
and is not trusted: the trusted side reads its JSON report as untrusted data
(``scoring.py``).
"""

import json
import os
import sys

from videokit.grading.kernel import CHECK_MARKER, DEFAULT_TIMEOUT, MAX_TEST_CASES

_CELL_GRACE_SECONDS = 30.0  # the kernel's own time limit acts first; then nbclient interrupts the kernel


def main(argv=None):
    """Worker entry point: ``otter.api.grade_submission`` on one notebook, report as JSON."""
    zip_path, submission, report_fd = argv or sys.argv[1:]
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
    with os.fdopen(int(report_fd), "w", encoding="utf-8") as pipe:
        pipe.write(json.dumps(report))


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
        if CHECK_MARKER in cell.source:
            return int(MAX_TEST_CASES * timeout + 2 * _CELL_GRACE_SECONDS)
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


if __name__ == "__main__":
    main()
