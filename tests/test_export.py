"""`videokit export`: each format written, run by its own runtime, and equal to the Keras model."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from videokit.export import default_path, export_model
from videokit.models import c3d, early_fusion

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export goes through TensorFlow (SavedModel, tf2onnx, LiteRT)"
)
CLIPS = np.random.default_rng(1).random((3, 8, 32, 32, 3), dtype=np.float32)


def small(build):
    keras.utils.set_random_seed(0)
    return build(preset="small")


@pytest.mark.parametrize("build, format", [(c3d, "savedmodel"), (c3d, "onnx"), (early_fusion, "tflite")])
def test_each_format_round_trips_through_its_own_runtime(tmp_path, build, format):
    if format == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("tf2onnx")
    model = small(build)
    path = default_path(tmp_path, format)
    result = export_model(model, path, format)
    assert result.path == path and path.exists() and result.max_difference <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left behind

    from videokit import tf_support  # run again here, on other clips than the check's

    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = session.run(None, {session.get_inputs()[0].name: CLIPS})[0]
    else:
        outputs = (tf_support.run_saved_model if format == "savedmodel" else tf_support.run_tflite)(path, CLIPS)
    np.testing.assert_allclose(outputs, model.predict_on_batch(CLIPS), atol=1e-4)


def test_a_model_the_format_cannot_take_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="tflite: the LiteRT interpreter cannot run this model"):
        export_model(small(c3d), tmp_path / "c3d.tflite", "tflite")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"export format must be one of \['savedmodel', 'onnx', 'tflite'\]"):
        export_model(small(c3d), tmp_path / "c3d.pt", "torchscript")


def test_an_existing_export_is_kept_unless_overwrite_is_asked_for(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"an earlier export")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        export_model(small(early_fusion), path, "tflite")
    assert path.read_bytes() == b"an earlier export"
    export_model(small(early_fusion), path, "tflite", overwrite=True)
    assert path.read_bytes() != b"an earlier export"


@pytest.mark.slow  # trains a run in a subprocess
def test_the_command_exports_a_trained_run(tmp_path):
    def videokit(*arguments):
        return subprocess.run([sys.executable, "-m", "videokit", *arguments], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)

    trained = videokit("train", "--model", "early_fusion", "--preset", "small", "--epochs", "1", "--run-dir", "run",
                       "--samples", "32", "--clip", "8x32x32", "--batch-size", "8")
    assert trained.returncode == 0, trained.stderr[-3000:]
    exported = videokit("export", "run", "--format", "tflite")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert exported.stdout.startswith(f"{pathlib.Path('run', 'export', 'model.tflite')}: tflite;")
    assert (tmp_path / "run" / "export" / "model.tflite").exists()
    again = videokit("export", "run", "--format", "tflite")
    assert again.returncode == 2 and again.stderr.strip().splitlines()[-1].endswith("pass --overwrite to replace it.")
