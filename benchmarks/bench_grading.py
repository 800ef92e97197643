"""Grading time per notebook: the two-phase sandboxed grader against the grader before issue 12.

The baseline is ``videokit/`` at another commit (default: 4e41c34, the grader
before issue 12: otter in a worker process, hidden tests in the student's
kernel, no sandbox), unpacked with ``git archive`` into a temporary folder and
imported from there. Each grader grades the same notebooks one at a time
(``jobs=1``) in a fresh process, with what it prepares once per exercise set
(autograders; for the new grader also the recorded test inputs of phase 0)
built beforehand, so that only grading is timed. The new grader also runs
with ``sandboxed=False`` to show what the sandbox itself costs. Prints seconds
per notebook and the ratio.

Usage:
    python benchmarks/bench_grading.py [--baseline REV] [--repeats 2] [NOTEBOOK ...]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
BASELINE = "4e41c34"  # the grader before issue 12
DEFAULT_NOTEBOOKS = ["solutions/01_convolution.ipynb", "exercises/01_convolution.ipynb",
                     "tests/fixtures/submissions/partial.ipynb", "solutions/02_pooling.ipynb"]
TIMER = """
import json, pathlib, sys, time
from videokit import grading
paths, options = sys.argv[1:-1], json.loads(sys.argv[-1])
sets = grading.exercise_sets(options["solutions"])
for path in paths:  # the autograders are built before the clock starts
    name = json.loads(pathlib.Path(path).read_text())["metadata"].get("otter", {}).get("assignment_name")
    grading.autograder_zip(sets[name or pathlib.Path(path).stem])
try:  # the two-phase grader: phase 0 (the masters' test inputs, cached) before the clock starts too
    from videokit.grading import batch, plans, sandbox
except ImportError:
    plans = None
if plans is not None:
    batch._Grader(sets, 120.0, options.get("sandboxed", True), None, sandbox.Limits()).build_plans(paths)
started = time.perf_counter()
results = grading.grade(paths, **options)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed / len(paths), "scores": [result.score for result in results],
                  "errors": [result.error for result in results if result.status != "graded"]}))
"""


def baseline_tree(revision, folder):
    """Unpacks ``videokit/`` at `revision` into `folder`; returns `folder`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "videokit"], check=True,
                             capture_output=True).stdout
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True)
    archive_path = folder / "videokit.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(folder, filter="data")
    return folder


def time_grader(source, notebooks, options, cache):
    """Seconds per notebook of the `videokit` package found in `source`, in a fresh process."""
    environment = dict(os.environ, PYTHONPATH=str(source), VIDEOKIT_CACHE_DIR=str(cache))
    options = dict(options, solutions=str(ROOT / "solutions"))
    result = subprocess.run([sys.executable, "-c", TIMER, *notebooks, json.dumps(options)], cwd=source,
                            env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"grading with {source} failed: {result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["errors"]:
        raise RuntimeError(f"grading with {source}: {report['errors']}")
    return report["seconds"], report["scores"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=DEFAULT_NOTEBOOKS)
    parser.add_argument("--baseline", default=BASELINE, help=f"commit of the old grader (default: {BASELINE})")
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args(argv)
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", arguments.baseline], check=True,
                              capture_output=True, text=True).stdout.strip()
    notebooks = [str((ROOT / path).resolve()) for path in arguments.notebooks]
    runs = {"before (no sandbox)": [], "sandboxed": [], "new, --no-sandbox": []}
    with tempfile.TemporaryDirectory(prefix="videokit-bench-") as folder:
        old = baseline_tree(revision, pathlib.Path(folder) / "old")
        cache = pathlib.Path(folder) / "cache"
        for _ in range(arguments.repeats):  # interleaved, so that load on the machine hits all three alike
            runs["before (no sandbox)"].append(time_grader(old, notebooks, {}, cache / "old"))
            runs["sandboxed"].append(time_grader(ROOT, notebooks, {}, cache / "new"))
            runs["new, --no-sandbox"].append(time_grader(ROOT, notebooks, {"sandboxed": False}, cache / "new"))
    medians = {name: statistics.median(seconds for seconds, _ in values) for name, values in runs.items()}
    print(f"{len(notebooks)} notebooks, {arguments.repeats} repeats, baseline {revision[:12]}")
    for name, values in runs.items():
        print(f"{name:22s} {medians[name]:6.2f} s per notebook   scores {values[0][1]}")
    print(f"ratio sandboxed / before: {medians['sandboxed'] / medians['before (no sandbox)']:.2f}x")


if __name__ == "__main__":
    main()
