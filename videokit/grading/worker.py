"""The worker: runs one notebook in a Jupyter kernel and hands back the files its last cell wrote.

Started by ``sandbox.run`` as ``python -m videokit.grading.worker MODE NOTEBOOK DATA REPORT_FD``:

* ``export`` (phase 1, a submission, in the sandbox, not trusted): DATA is the
  ``inputs.npz`` of the submission's exercise set; the last cell is
  ``export.export_answers``, which writes ``answers.npz``.
* ``record`` (phase 0, a master, trusted): DATA is a JSON file of the
  master's tests and answer names; the last cell is ``export.record_tests``,
  which writes ``inputs.npz`` and ``given.npz``.

Before its last cell, the notebook is guarded (``kernel.guard_notebook``):
time limit and output cap on every cell, ``exit()`` refused, the student's
``grader.check`` calls skipped. The report written to REPORT_FD is one JSON
line (the cells' errors, the worker's error, the files' sizes) followed by
the files' bytes. The trusted side treats all of it as untrusted data.
"""

import json
import os
import sys
import tempfile

from videokit.grading.kernel import DEFAULT_TIMEOUT, EXPORT_MARKER, guard_notebook

_CELL_GRACE_SECONDS = 30.0  # the kernel's own time limit acts first; then nbclient interrupts the kernel
OUTPUT_FILES = {"export": ("answers.npz",), "record": ("inputs.npz", "given.npz")}


def last_cell(mode, data, folder, timeout):
    """The source of the notebook's last cell for `mode`."""
    if mode == "record":
        return (f"{EXPORT_MARKER}\nimport json as _videokit_json, videokit.grading.export as _videokit_export\n"
                f"_videokit_tests = _videokit_json.load(open({data!r}))\n"
                f"_videokit_export.record_tests(_videokit_tests['tests'], set(_videokit_tests['answers']), "
                f"{folder!r}, globals(), {float(timeout)!r})")
    return (f"{EXPORT_MARKER}\nimport videokit.grading.export as _videokit_export\n"
            f"_videokit_export.export_answers({data!r}, {folder + '/answers.npz'!r}, globals(), {float(timeout)!r})")


def main(argv=None):
    """Worker entry point: execute the guarded notebook, then report."""
    import nbformat

    mode, notebook_path, data, report_fd = argv or sys.argv[1:]
    timeout = float(os.environ.get("VIDEOKIT_GRADING_TIMEOUT", DEFAULT_TIMEOUT))
    folder = tempfile.mkdtemp(prefix="videokit-worker-")
    report = {"cell_errors": [], "error": "", "files": {}}
    notebook = nbformat.read(notebook_path, as_version=4)
    guard_notebook(notebook, [last_cell(mode, data, folder, timeout)], timeout=timeout)
    try:
        _execute(notebook, folder, timeout)
    except Exception as error:  # DeadKernelError and whatever else stops the kernel
        report["error"] = _describe_failure(error)
    report["cell_errors"] = _cell_errors(notebook)
    blobs = []
    for name in OUTPUT_FILES[mode]:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                blobs.append(file.read())
            report["files"][name] = len(blobs[-1])
    if not report["error"] and len(report["files"]) < len(OUTPUT_FILES[mode]):
        export_errors = [error["error"] for error in report["cell_errors"] if error["cell"] == "export"]
        report["error"] = "the notebook's answers could not be exported" + (
            f" ({export_errors[0]})" if export_errors else "")
    with os.fdopen(int(report_fd), "wb") as pipe:
        pipe.write(json.dumps(report).encode("utf-8") + b"\n")
        for blob in blobs:
            pipe.write(blob)


def _execute(notebook, folder, timeout):
    from nbclient import NotebookClient

    def cell_timeout(cell):
        if EXPORT_MARKER in cell.source:
            return int(20 * timeout + 4 * _CELL_GRACE_SECONDS)  # each test's calls have `timeout` in all
        return int(timeout + _CELL_GRACE_SECONDS)

    client = NotebookClient(
        notebook, timeout_func=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
        kernel_name=notebook.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": folder}},
        error_on_timeout={"ename": "TimeoutError",
                          "evalue": f"the cell ran past its time limit ({timeout:g} s) and was interrupted",
                          "traceback": []},
    )
    client.execute()


def _describe_failure(error):
    name = type(error).__name__
    if name == "DeadKernelError":
        return "the notebook's kernel died (the notebook stopped its own process, or ran out of memory)"
    return f"the notebook could not be run: {name}: {str(error)[:1500]}"


def _cell_errors(notebook):
    """The errors raised by the student's cells (by their index in the submitted notebook), and by the export."""
    errors = []
    for cell in notebook.cells:
        index = cell.get("metadata", {}).get("videokit_grading", {}).get("index")
        if index is None and EXPORT_MARKER in cell.get("source", ""):
            index = "export"
        if index is None:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append({"cell": index, "error": f"{output.get('ename')}: {output.get('evalue')}"[:300]})
    return errors


if __name__ == "__main__":
    main()
