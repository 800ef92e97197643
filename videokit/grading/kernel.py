"""What runs next to the student's code in the sandboxed kernel: otter's plugin and the kernel guard.

Nothing here is trusted. The ``GradingGuard`` otter plugin (named in each
master's ``generate`` config) and ``KernelGuard`` keep one misbehaving cell
from spoiling the rest of a run: every cell and test case gets a time limit,
printed output is capped, ``exit()`` is refused, the student's own
``grader.check`` calls are skipped, builtins and otter's classes are restored
after the student's cells, and each question is tested in its own cell. A
submission can defeat all of this from inside its kernel; what keeps it from
other submissions, the grader and the hidden test sources on disk is the
sandbox (``sandbox.py``), and what keeps its report honest in shape is the
trusted side (``scoring.py``).

Imports only the standard library at import time, so the kernel-side helpers load quickly.
"""

import os
import re
import secrets
import signal
import sys

DEFAULT_TIMEOUT = 120.0
MAX_OUTPUT_CHARS = 1_000_000
CHECK_MARKER = "# videokit-grading: test one question"
MAX_TEST_CASES = 8  # per question, to bound the time of one question's cell

_GRADER_CALL = re.compile(r"^\s*grader\.(check|check_all|export)\(.*\)\s*;?\s*(#.*)?$")
_GRADER_INIT = re.compile(r"^(\s*grader\s*=\s*otter\.Notebook)\(.*\)\s*$")  # reads the notebook file by name
_EXPORT_MARKER = "GradingResults(Checker.get_results())"  # otter's last cell, which saves the results


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
        f"import videokit.grading.kernel\n"
        f"{guard} = videokit.grading.kernel.KernelGuard({float(timeout)!r}, {int(max_output)!r})\n"
        f"{check} = {guard}.check_question"
    )
    last = [nbformat.v4.new_code_cell(f"{guard}.finish_student_cells()")]
    last += [nbformat.v4.new_code_cell(f"{CHECK_MARKER}\n{check}({test!r}, globals())") for test in tests]
    notebook.cells = [first, *cells, *last]
    return notebook


def _without_grader_calls(line):
    if _GRADER_CALL.match(line):
        return "pass  # grader call skipped by the autograder"
    return _GRADER_INIT.sub(r"\1()", line)


# --------------------------------------------------------------------------- grading: kernel side


class KernelGuard:
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
        if CHECK_MARKER not in source and _EXPORT_MARKER not in source:
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
