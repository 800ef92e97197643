"""causal_c3d: streamed frame by frame it gives the offline outputs, and no frame sees the future."""

import keras
import numpy as np
import pytest

from videokit.layers import CausalConv3D, LastFrame
from videokit.models import c3d, causal_c3d, stream
from videokit.models.streaming import CAUSAL_CLASSIFIERS, step_model

CLIPS = np.random.default_rng(0).random((2, 4, 16, 16, 3)).astype("float32")
SETTINGS = {"filters": (4, 4, 8, 8, 8, 8, 8, 8), "fc_units": 8, "num_classes": 5}


def tiny(time=4):
    keras.utils.set_random_seed(0)
    return causal_c3d((time, 16, 16, 3), preset="small", **SETTINGS)


def offline_per_frame(model, clips):
    """The offline model's answer on the first t + 1 frames, for every t: what the stream must give."""
    any_length = causal_c3d((None, *clips.shape[2:]), preset="small", **SETTINGS)
    any_length.set_weights(model.get_weights())
    return np.stack([keras.ops.convert_to_numpy(any_length(clips[:, : t + 1])) for t in range(clips.shape[1])], 1)


def test_streaming_every_frame_equals_the_offline_model_on_the_frames_so_far():
    model = tiny()
    live = stream(model, batch_size=2)
    streamed = live.run(CLIPS)
    np.testing.assert_allclose(streamed, offline_per_frame(model, CLIPS), atol=1e-5)
    np.testing.assert_allclose(streamed[:, -1], keras.ops.convert_to_numpy(model(CLIPS)), atol=1e-5)


def test_later_frames_do_not_change_the_answer_on_earlier_ones():
    model = tiny()
    changed = CLIPS.copy()
    changed[:, 2:] = 0.0
    before, after = offline_per_frame(model, CLIPS), offline_per_frame(model, changed)
    np.testing.assert_allclose(after[:, :2], before[:, :2], atol=1e-6)
    assert not np.allclose(after[:, 2:], before[:, 2:])


def test_every_state_of_the_step_function_is_at_most_4d():
    step, shapes = step_model(tiny())
    assert all(len(tensor.shape) <= 4 for tensor in (*step.inputs, *step.outputs))
    assert shapes[0] == (16, 16, 2 * 3)  # conv1a's buffer: two RGB frames side by side on the channels


def test_packed_step_equals_the_5d_step():
    layer = CausalConv3D(4, (3, 3, 2))
    layer.build(CLIPS.shape)
    buffer = CLIPS[:, :2]
    frame, new_buffer = layer.step(CLIPS[:, 2], buffer)
    packed = np.concatenate([buffer[:, 0], buffer[:, 1]], axis=-1)
    packed_frame, packed_buffer = layer.packed_step(CLIPS[:, 2], packed)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(packed_frame), keras.ops.convert_to_numpy(frame), atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(packed_buffer),
                               np.concatenate([CLIPS[:, 1], CLIPS[:, 2]], axis=-1), atol=0)
    assert tuple(new_buffer.shape) == (2, 2, 16, 16, 3)


def test_the_registered_causal_classifiers_stream_and_c3d_is_refused():
    assert CAUSAL_CLASSIFIERS == ("causal_c3d",)
    stream(tiny())
    with keras.StatelessScope(initialize_variables=False):
        non_causal = c3d(preset="small")
    with pytest.raises(ValueError, match="cannot run layer 'conv1a' \\(Conv3D\\) frame by frame: it spans 3 frames"):
        stream(non_causal)


def test_any_number_of_frames_and_the_feature_map_without_the_top():
    assert causal_c3d((None, 32, 32, 3), preset="small").output_shape == (None, 8)
    assert causal_c3d(preset="small", include_top=False).output_shape == (None, 8, 2, 2, 64)
    assert causal_c3d(preset="small", include_top=False, pooling="avg").output_shape == (None, 64)
    with pytest.raises(ValueError, match="expects filters with 8 ints"):
        causal_c3d(preset="small", filters=(4, 4))


def test_last_frame_keeps_the_newest_step_and_refuses_vectors():
    values = np.arange(12, dtype="float32").reshape(2, 3, 2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(LastFrame()(values)), values[:, -1])
    with pytest.raises(ValueError, match=r"LastFrame expects sequences .* got an input of shape \(2, 2\)"):
        LastFrame()(values[:, 0])
