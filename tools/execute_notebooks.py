"""Re-execute course notebooks in place, with the small (CI) size.

The committed outputs are what nbval compares against in the test run, so they
must come from the same size the tests use: this script sets ``CI=true`` for
the kernel, exactly like ``conftest.py`` does for the test run.

Usage:
    python tools/execute_notebooks.py                 # every course notebook
    python tools/execute_notebooks.py notebooks/01_convolution.ipynb
"""

import argparse
import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Only the course notebooks: the exercise masters in solutions/ are run by the
# grader's tests (tests/test_grading.py), and exercises/ are generated from them.
DEFAULT_GLOBS = ("notebooks/*.ipynb",)


def notebook_paths(arguments):
    if arguments:
        return [pathlib.Path(argument).resolve() for argument in arguments]
    return sorted(path for pattern in DEFAULT_GLOBS for path in ROOT.glob(pattern))


# TensorFlow and absl start-up logging: timestamps and machine details, not course content.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\]|To enable the following "
    r"instructions|E0000 )"
)


def clear_volatile_metadata(notebook):
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)


def drop_startup_noise(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                lines = [line for line in output.text.splitlines(True) if not NOISE.match(line)]
                output.text = "".join(lines)
                if not output.text.strip():
                    continue
            kept.append(output)
        cell.outputs = kept


def execute(path, timeout):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    clear_volatile_metadata(notebook)
    drop_startup_noise(notebook)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(notebook, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    arguments = parser.parse_args(argv)
    os.environ["CI"] = "true"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as conftest.py: the same kernels as the test run
    for path in notebook_paths(arguments.notebooks):
        started = time.perf_counter()
        print(f"executing {path.relative_to(ROOT)} ...", end=" ", flush=True)
        execute(path, arguments.timeout)
        print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
