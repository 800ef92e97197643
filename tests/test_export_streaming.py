"""videokit export --streaming: a causal model's step function, run by each format's runtime, streams as Keras does."""

import json

import keras
import numpy as np
import pytest

from videokit import cli
from videokit.config import RunConfig
from videokit.export import default_path, export_model, step_runner, stream_exported
from videokit.models import c3d, causal_c3d, stream

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export goes through TensorFlow (SavedModel, tf2onnx, LiteRT)"
)
CLIPS = np.random.default_rng(2).random((1, 8, 32, 32, 3), dtype=np.float32)


def small_causal():
    keras.utils.set_random_seed(0)
    return causal_c3d(preset="small", filters=(4, 4, 8, 8, 8, 8, 8, 8))


@pytest.mark.parametrize("format", ["savedmodel", "onnx", "tflite"])
def test_the_exported_step_streams_every_frame_as_keras_does(tmp_path, format):
    if format == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("tf2onnx")
    model = small_causal()
    path = default_path(tmp_path, format, streaming=True)
    result = export_model(model, path, format, streaming=True)
    assert result.streaming and result.max_difference <= 1e-4 and path.exists()
    assert all(len(shape) <= 3 for shape in result.state_shapes)  # 4-D with the batch axis
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]

    exported = stream_exported(step_runner(path, format), result.state_shapes, CLIPS)  # other frames than the check's
    np.testing.assert_allclose(exported, stream(model).run(CLIPS), atol=1e-4)
    np.testing.assert_allclose(exported[:, -1], keras.ops.convert_to_numpy(model(CLIPS)), atol=1e-4)


def test_a_model_that_cannot_stream_is_refused_in_one_line(tmp_path):
    keras.utils.set_random_seed(0)
    with pytest.raises(ValueError, match=r"^--streaming exports the step of a causal model, and c3d is not one "
                                         r"\(.*\); the registered causal classifiers are: causal_c3d\.$"):
        export_model(c3d(preset="small"), tmp_path / "step.onnx", "onnx", streaming=True)
    assert list(tmp_path.iterdir()) == []


def test_the_command_exports_the_step_of_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    small_causal().save(run / "best.keras")
    (run / "config.json").write_text(RunConfig(model="causal_c3d", clip=(8, 32, 32)).to_json())
    (run / "classes.json").write_text(json.dumps([str(index) for index in range(8)]))
    assert cli.main(["export", str(run), "--format", "tflite", "--streaming"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{run / 'export' / 'step.tflite'}: tflite streaming step (inputs frame and state0..state9")
