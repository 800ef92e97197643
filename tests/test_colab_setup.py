"""The Colab setup cell of every notebook and exercise installs a videokit that works on the stack it meets.

On Colab, TensorFlow, Keras and NumPy are already installed; the setup cell's ``%pip install`` must
add videokit (and otter-grader for exercises) without replacing them, and what it installs must read
video. Here each distinct install line runs against this environment, with the GitHub URL replaced by
a wheel built from this checkout: first as ``pip install --dry-run`` (nothing may change version),
then the wheel alone is installed into a separate folder and used from a fresh process. CI runs this
in its Python 3.13 venv with Colab's versions of TensorFlow and Keras (``.ci/colab-constraints.txt``).
"""

import importlib.metadata
import json
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/*.ipynb")])
PIP_LINE = re.compile(r"^\s*%pip install (.+)$", re.MULTILINE)


def setup_cell(path):
    """The source of the notebook's Colab-only setup cell."""
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    return next((source for source in sources if '"google.colab" in sys.modules' in source), None)


def install_arguments(path):
    """What the setup cell passes to ``%pip install``, without pip's own options."""
    lines = PIP_LINE.findall(setup_cell(path) or "")
    assert len(lines) == 1, f"{path.name}: expected one %pip install line in the Colab setup cell, found {len(lines)}"
    return tuple(argument for argument in shlex.split(lines[0]) if not argument.startswith("-"))


INSTALL_LINES = sorted({install_arguments(path) for path in NOTEBOOKS})


def test_every_notebook_and_exercise_installs_videokit_on_colab_only():
    for path in NOTEBOOKS:
        cell = setup_cell(path)
        assert cell is not None, f"{path.name}: no Colab setup cell"
        assert cell.lstrip().startswith("import sys"), f"{path.name}: the setup cell should come first and be short"
        assert any(argument.startswith("videokit @ ") for argument in install_arguments(path)), path.name


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder),
                    str(ROOT)], check=True, timeout=600)
    return next(folder.glob("videokit-*.whl"))


def from_checkout(arguments, wheel):
    return [f"videokit @ {wheel.as_uri()}" if argument.startswith("videokit @ ") else argument
            for argument in arguments]


@pytest.mark.parametrize("arguments", INSTALL_LINES, ids=lambda arguments: " ".join(arguments))
def test_setup_install_line_keeps_the_stack_and_gives_a_working_videokit(arguments, wheel, tmp_path):
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--report", str(report),
                    *from_checkout(arguments, wheel)], check=True, timeout=600)
    planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    replaced = {name: (importlib.metadata.version(name), version) for name, version in planned.items()
                if name != "videokit" and _installed(name) and importlib.metadata.version(name) != version}
    assert not replaced, f"the setup cell would replace what Colab has: {replaced}"

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=600)
    script = (
        "import numpy as np, videokit\n"
        "from videokit import io\n"
        "clip = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)\n"
        "path = io.write_video('clip.mp4', clip, fps=8)\n"
        "print(videokit.__file__, io.read_video(path, num_frames=4, size=16).shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    module_file, shape = result.stdout.split(" ", 1)
    assert pathlib.Path(module_file).is_relative_to(target)  # the installed wheel, not this checkout
    assert shape.strip() == "(4, 16, 16, 3)"


def _installed(name):
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
