"""Regenerate the student notebooks in exercises/ from the otter-grader masters in solutions/.

Each master ``solutions/NN_topic.ipynb`` (solutions and hidden tests included) goes through
``otter assign``; the student version, with ``...`` in place of the solutions and only the
visible tests (stored in the notebook's metadata), is written to ``exercises/NN_topic.ipynb``.
The test run fails when exercises/ and solutions/ drift apart.

Usage:
    python tools/make_exercises.py            # rewrite exercises/ from solutions/
    python tools/make_exercises.py --check    # exit 1 and list the notebooks that are out of date
"""

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videokit import grading  # noqa: E402  (imported after making the checkout importable)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that exercises/ is up to date")
    parser.add_argument("--solutions", type=pathlib.Path, default=ROOT / "solutions")
    parser.add_argument("--exercises", type=pathlib.Path, default=ROOT / "exercises")
    arguments = parser.parse_args(argv)
    masters = grading.exercise_sets(arguments.solutions)
    orphans = sorted(
        path for path in arguments.exercises.glob("*.ipynb") if path.stem not in masters
    ) if arguments.exercises.is_dir() else []
    if arguments.check:
        stale = grading.stale_exercises(arguments.solutions, arguments.exercises)
        for path in stale:
            print(f"out of date: {path} (run python tools/make_exercises.py)")
        for path in orphans:
            print(f"no master in {arguments.solutions} for {path}")
        return 1 if stale or orphans else 0
    for path in grading.write_exercises(arguments.solutions, arguments.exercises):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    for path in orphans:
        print(f"warning: no master for {path}; delete it if its exercise set is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
