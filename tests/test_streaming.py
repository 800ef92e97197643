"""Streaming: a causal model run one frame at a time gives the offline outputs, at every step."""

import keras
import numpy as np
import pytest

from videokit.layers import CausalConv3D, CumulativeAverage
from videokit.models import convlstm_predictor, stream

RNG = np.random.default_rng(0)
CLIPS = RNG.random((2, 7, 8, 8, 1)).astype("float32")


def causal_classifier():
    # MoViNet-style: causal 3D convolutions, per-frame pooling, a running mean over time, a head per step.
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((None, 8, 8, 1)),
        CausalConv3D(4, 3, activation="relu"),
        keras.layers.MaxPooling3D((1, 2, 2)),
        CausalConv3D(6, (2, 3, 3), activation="relu"),
        keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D()),
        CumulativeAverage(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def offline(model, clips):
    return keras.ops.convert_to_numpy(model(clips))


@pytest.mark.parametrize("make_model", [causal_classifier, lambda: convlstm_predictor((None, 8, 8, 1), filters=(4, 4), kernel_size=3)],
                         ids=["causal_conv3d_classifier", "convlstm_predictor"])
def test_streaming_every_frame_equals_the_offline_outputs(make_model):
    model = make_model()
    live = stream(model, batch_size=2)
    np.testing.assert_allclose(live.run(CLIPS), offline(model, CLIPS), atol=1e-5)
    assert live.frames_seen == CLIPS.shape[1]
    live.reset()
    np.testing.assert_allclose(live.step(CLIPS[:, 0]), offline(model, CLIPS[:, :1])[:, 0], atol=1e-5)


def test_causal_layers_never_look_ahead():
    model = causal_classifier()
    changed = CLIPS.copy()
    changed[:, 4:] = RNG.random(changed[:, 4:].shape)
    before, after = offline(model, CLIPS), offline(model, changed)
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-6)  # frames 0-3 cannot see frames 4-6
    assert not np.allclose(after[:, 4:], before[:, 4:])


def test_cumulative_average_is_the_mean_of_the_frames_so_far():
    values = RNG.random((2, 5, 3)).astype("float32")
    expected = np.cumsum(values, axis=1) / np.arange(1, 6)[None, :, None]
    np.testing.assert_allclose(offline(CumulativeAverage(), values), expected, rtol=1e-6)


def test_causal_conv3d_equals_a_conv3d_on_clips_padded_in_front():
    layer = CausalConv3D(2, (3, 3, 3))
    outputs = offline(layer, CLIPS)
    reference = keras.layers.Conv3D(2, 3, padding="valid")
    reference.build((None, 9, 10, 10, 1))
    reference.set_weights(layer.get_weights())
    padded = np.pad(CLIPS, [(0, 0), (2, 0), (1, 1), (1, 1), (0, 0)])  # two frames before, 'same' in space
    np.testing.assert_allclose(outputs, offline(reference, padded), atol=1e-5)


@pytest.mark.parametrize("layer, problem", [
    (keras.layers.Conv3D(2, 3, padding="same", name="looks_ahead"), "spans 3 frames"),
    (keras.layers.GlobalAveragePooling3D(name="pools_time"), "cannot run layer 'pools_time'"),
    (keras.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True, go_backwards=True, name="back"),
     "go_backwards=True"),
])
def test_layers_that_see_the_future_are_refused_by_name(layer, problem):
    model = keras.Sequential([keras.Input((None, 8, 8, 1)), layer])
    with pytest.raises(ValueError, match=problem):
        stream(model)


def test_a_frame_of_the_wrong_shape_is_a_clear_error():
    live = stream(causal_classifier(), batch_size=2)
    with pytest.raises(ValueError, match=r"expects a frame of shape \(2, 8, 8, 1\); got \(8, 8, 1\)"):
        live.step(CLIPS[0, 0])


def test_causal_layers_round_trip_through_keras_files(tmp_path):
    model = causal_classifier()
    model.save(tmp_path / "causal.keras")
    reloaded = keras.saving.load_model(tmp_path / "causal.keras")
    np.testing.assert_allclose(offline(reloaded, CLIPS), offline(model, CLIPS), atol=1e-6)
    assert reloaded.layers[0].get_config()["kernel_size"] == (3, 3, 3)
