"""The package's promises about installation and backends."""

import os
import pathlib
import re
import subprocess
import sys
import textwrap
import tomllib

import pytest
import yaml

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here

ROOT = pathlib.Path(__file__).resolve().parents[1]


def requirement_name(requirement):
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_installs_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {requirement_name(r) for r in project["dependencies"]}
    for extra in ("test", "course"):
        declared |= {requirement_name(r) for r in project["optional-dependencies"][extra]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            listed |= {requirement_name(r) for r in entry["pip"] if not r.startswith("-e")}
        else:
            listed.add(requirement_name(entry))
    listed -= {"python", "pip"}
    assert listed == declared


def test_package_imports_and_feeds_keras_without_tensorflow(tmp_path):
    """With KERAS_BACKEND=jax and TensorFlow made unimportable, the package still works."""
    script = textwrap.dedent(
        """
        import sys

        class BlockTensorFlow:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ImportError("TensorFlow is blocked in this test")

        sys.meta_path.insert(0, BlockTensorFlow())
        import keras
        import videokit
        from videokit import explain, io, viz
        from videokit.data import VideoFolder, moving_shapes
        import videokit.layers, videokit.models
        for name in videokit.layers.__all__ + videokit.models.__all__:
            getattr(videokit.layers if name in videokit.layers.__all__ else videokit.models, name)
        videos, labels, names = moving_shapes(4, num_frames=6, size=32)
        for number, video in enumerate(videos):
            io.write_video(f"{sys.argv[1]}/{names[labels[number]]}/{number}.mp4", video)
        clips, batch_labels = VideoFolder(sys.argv[1], num_frames=4, size=24).as_pydataset(batch_size=4)[0]
        assert clips.shape == (4, 4, 24, 24, 3), clips.shape
        assert "tensorflow" not in sys.modules
        print("ok", keras.backend.backend())
        """
    )
    environment = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok jax"


def test_builders_stay_builders_after_their_module_is_imported():
    import videokit.models

    first = videokit.models.cnn_lstm
    from videokit.models import cnn_lstm

    assert callable(first) and cnn_lstm is first and videokit.models.cnn_lstm is first


def test_ci_runs_the_readme_test_command_and_documented_stacks():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    default_stack = ci.split("stack_default() {")[1].split("\n}")[0].strip().splitlines()
    assert default_stack[-1].strip().startswith("pip install") and default_stack[-1].strip() in readme
    stacks = re.findall(r"^stack_(\w+)\(\)", ci, re.MULTILINE)
    assert stacks == ["default", "colab", "lowest", "torch"]
    assert "bash .ci/run" in readme and all(f"| `{stack}` |" in readme for stack in stacks)
