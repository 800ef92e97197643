"""What runs next to the student's code in the sandboxed kernel: the kernel guard, and otter's plugin.

Nothing here is trusted. ``KernelGuard`` keeps one misbehaving cell from
spoiling the rest of a run: every cell gets a time limit, printed output is
capped, ``exit()`` is refused, the student's own ``grader.check`` calls are
skipped, and builtins are restored after the student's cells, before the
answers are exported. A submission can defeat all of this from inside its
kernel; that only spoils its own export. What keeps it from other
submissions, the grader and the masters is the sandbox (``sandbox.py``), and
what keeps its score honest is that the tests run elsewhere, on the plain data
it exported (``checker.py``).

Imports only the standard library at import time, so the kernel-side helpers load quickly.
"""

import os
import re
import secrets
import signal
import sys

DEFAULT_TIMEOUT = 120.0
MAX_OUTPUT_CHARS = 1_000_000
EXPORT_MARKER = "# videokit-grading: export the answers"

_GRADER_CALL = re.compile(r"^\s*grader\.(check|check_all|export)\(.*\)\s*;?\s*(#.*)?$")
_GRADER_INIT = re.compile(r"^(\s*grader\s*=\s*otter\.Notebook)\(.*\)\s*$")  # reads the notebook file by name


class GradingGuard:
    """otter-grader plugin named in each master's assignment config (``generate: plugins:``).

    ``videokit grade`` no longer runs otter's tests (it exports answers and
    checks them outside the kernel); the plugin is kept so that ``otter run``
    on an autograder zip still guards the notebook's cells the same way.
    """

    def __init__(self, submission_path=None, submission_metadata=None, plugin_config=None):
        self.config = plugin_config or {}

    def before_execution(self, notebook):
        timeout = float(os.environ.get("VIDEOKIT_GRADING_TIMEOUT", self.config.get("timeout", DEFAULT_TIMEOUT)))
        return guard_notebook(notebook, [], timeout=timeout)


def guard_notebook(notebook, last_cells, *, timeout=DEFAULT_TIMEOUT, max_output=MAX_OUTPUT_CHARS):
    """The notebook to execute: guard cell, the student's cells, then the guard's restore cell and `last_cells`.

    Args:
        notebook: an ``nbformat`` notebook (changed in place and returned).
        last_cells: sources of the cells to run after the student's (the export).
        timeout: seconds for each of the student's cells.
        max_output: characters of printed output kept per cell.
    """
    import nbformat

    guard = f"_videokit_guard_{secrets.token_hex(4)}"
    cells = []
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("otter", None)
        cell.metadata["videokit_grading"] = {"index": index}
        if cell.cell_type == "code":
            cell.source = "\n".join(map(_without_grader_calls, cell.source.splitlines()))
        cells.append(cell)
    first = nbformat.v4.new_code_cell(
        f"import videokit.grading.kernel\n"
        f"{guard} = videokit.grading.kernel.KernelGuard({float(timeout)!r}, {int(max_output)!r})"
    )
    last = [nbformat.v4.new_code_cell(f"{guard}.finish_student_cells()")]
    last += [nbformat.v4.new_code_cell(source) for source in last_cells]
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

        self.timeout, self.max_output = timeout, max_output
        self.shell = get_ipython()
        self.saved = [(obj, dict(vars(obj))) for obj in (builtins, signal)]
        self.written = 0
        self.has_alarm = hasattr(signal, "setitimer")
        if self.shell is not None:
            self.shell.events.register("pre_run_cell", self._before_cell)
            self.shell.events.register("post_run_cell", self._after_cell)
            self.shell.ask_exit = self._refuse_exit
        for stream in (sys.stdout, sys.stderr):
            self._cap(stream)

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
        if EXPORT_MARKER not in source:
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

    # After the student's cells: undo their changes to builtins before the answers are exported.

    def finish_student_cells(self):
        for obj, saved in self.saved:
            vars(obj).update(saved)
