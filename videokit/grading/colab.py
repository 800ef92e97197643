"""The Colab helper called by the setup cell of every exercise notebook (runs in the student's kernel)."""

import json
import pathlib

REPOSITORY = "videokit-course/videokit"
EXERCISE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/exercises/{{name}}.ipynb"


def prepare_colab(name, folder=".", url=None):
    """Makes ``grader.check`` work on Colab, where the kernel cannot read the notebook file.

    Downloads the student notebook of exercise set `name` from the repository
    (or `url`) into `folder`, unless it is there, and writes its visible tests
    to ``folder/tests/`` as otter test files. Called by the Colab-only setup
    cell of every exercise notebook.

    Args:
        name: the exercise set, e.g. ``"01_convolution"``.
        folder: where the notebook and ``tests/`` go (Colab's working directory).
        url: where to download the notebook; defaults to the repository's
            ``exercises/{name}.ipynb`` on GitHub.

    Returns:
        The list of test files written.
    """
    import urllib.request

    folder = pathlib.Path(folder)
    notebook_path = folder / f"{name}.ipynb"
    if not notebook_path.is_file():
        with urllib.request.urlopen(url or EXERCISE_URL.format(name=name), timeout=60) as response:
            notebook_path.write_bytes(response.read())
    tests = json.loads(notebook_path.read_text(encoding="utf-8"))["metadata"]["otter"]["tests"]
    tests_dir = folder / "tests"
    tests_dir.mkdir(exist_ok=True)
    written = []
    for question, source in tests.items():
        path = tests_dir / f"{question}.py"
        path.write_text(source, encoding="utf-8")
        written.append(path)
    return written
