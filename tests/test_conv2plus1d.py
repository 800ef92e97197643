import keras
import numpy as np
import pytest

from videokit.layers import Conv2Plus1D
from videokit.layers.conv2plus1d import intermediate_channels

# (t, d, N_in, N_out, M): M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out)).
FORMULA_CASES = [
    (3, 3, 64, 64, 144),  # exact: 27 * 4096 / 768
    (3, 3, 128, 128, 288),  # exact
    (3, 3, 512, 512, 1152),  # exact
    (3, 3, 64, 128, 230),  # 221184 / 960 = 230.4
    (3, 3, 3, 64, 23),  # 5184 / 219 = 23.67
    (3, 7, 3, 64, 83),  # R(2+1)D stem: 28224 / 339 = 83.26
    (1, 3, 16, 16, 14),  # t = 1: 2304 / 160 = 14.4
]


@pytest.mark.parametrize("t, d, n_in, n_out, expected", FORMULA_CASES)
def test_intermediate_channels_formula(t, d, n_in, n_out, expected):
    assert intermediate_channels((t, d, d), n_in, n_out) == expected
    assert expected == (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out)


def test_intermediate_channels_accepts_an_int_kernel_and_is_at_least_one():
    assert intermediate_channels(3, 64, 64) == 144
    assert intermediate_channels(1, 1, 1) == 1


@pytest.mark.parametrize(
    "kernel_size, in_channels, filters",
    [((3, 3), 4, 4), ((3, 3, 0), 4, 4), ((3, 3, 3), 0, 4), ((3, 3, 3), 4, 2.5)],
)
def test_intermediate_channels_rejects_bad_arguments(kernel_size, in_channels, filters):
    with pytest.raises(ValueError, match="positive int"):
        intermediate_channels(kernel_size, in_channels, filters)


@pytest.mark.parametrize("t, d, n_in, n_out, m", FORMULA_CASES[:5])
def test_weight_count_matches_the_full_3d_convolution(t, d, n_in, n_out, m):
    layer = Conv2Plus1D(n_out, kernel_size=(t, d, d), use_bias=False, use_batch_norm=False)
    layer.build((None, 4, 8, 8, n_in))
    factorised = layer.spatial_conv.count_params() + layer.temporal_conv.count_params()
    full = t * d * d * n_in * n_out
    assert layer.spatial_conv.filters == m
    assert tuple(layer.spatial_conv.kernel.shape) == (1, d, d, n_in, m)
    assert tuple(layer.temporal_conv.kernel.shape) == (t, 1, 1, m, n_out)
    assert factorised == m * (d * d * n_in + t * n_out)
    # Equal when M is exact, otherwise smaller by less than one intermediate channel.
    assert 0 <= full - factorised < d * d * n_in + t * n_out
    if full % (d * d * n_in + t * n_out) == 0:
        assert factorised == full


def test_weights_of_the_default_layer():
    layer = Conv2Plus1D(8)
    layer.build((None, 4, 8, 8, 8))
    m = intermediate_channels((3, 3, 3), 8, 8)  # 18
    # spatial kernel + bias, batch norm (gamma, beta, mean, variance), temporal kernel + bias
    assert layer.count_params() == 9 * 8 * m + m + 4 * m + 3 * m * 8 + 8


@pytest.mark.parametrize(
    "strides, padding, expected",
    [
        ((1, 1, 1), "same", (2, 6, 9, 10, 5)),
        ((1, 2, 2), "same", (2, 6, 5, 5, 5)),
        ((2, 2, 2), "same", (2, 3, 5, 5, 5)),
        (2, "same", (2, 3, 5, 5, 5)),
        ((1, 1, 1), "valid", (2, 4, 7, 8, 5)),
        ((2, 1, 2), "valid", (2, 2, 7, 4, 5)),
        ((1, 1, 1), "symmetric", (2, 6, 9, 10, 5)),
        ((2, 2, 2), "symmetric", (2, 3, 5, 5, 5)),
    ],
)
def test_output_shape_with_strides_and_padding(strides, padding, expected):
    layer = Conv2Plus1D(5, strides=strides, padding=padding)
    clips = np.zeros((2, 6, 9, 10, 3), dtype="float32")
    assert tuple(layer(clips).shape) == expected
    assert layer.compute_output_shape(clips.shape) == expected


def _random_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:  # positive everywhere: a valid batch-norm variance
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))


def _by_hand_with_symmetric_padding(layer, clips):
    """PyTorch's (2+1)D convolution: k // 2 zeros on both sides before each "valid" convolution."""
    ops = keras.ops
    (time, height, width), (time_stride, height_stride, width_stride) = layer.kernel_size, layer.strides
    x = ops.pad(clips, ((0, 0), (0, 0), (height // 2,) * 2, (width // 2,) * 2, (0, 0)))
    x = ops.conv(x, layer.spatial_conv.kernel, strides=(1, height_stride, width_stride)) + layer.spatial_conv.bias
    norm = layer.batch_norm
    x = (x - norm.moving_mean) / ops.sqrt(norm.moving_variance + layer.batch_norm_epsilon) * norm.gamma + norm.beta
    x = ops.pad(ops.relu(x), ((0, 0), (time // 2,) * 2, (0, 0), (0, 0), (0, 0)))
    return ops.conv(x, layer.temporal_conv.kernel, strides=(time_stride, 1, 1)) + layer.temporal_conv.bias


@pytest.mark.parametrize("shape", [(6, 10, 8, 3), (5, 9, 7, 3)], ids=["even sizes", "odd sizes"])
def test_symmetric_padding_pads_both_sides_like_pytorch(shape):
    layer = Conv2Plus1D(4, strides=2, padding="symmetric", batch_norm_epsilon=1e-5, batch_norm_momentum=0.9)
    same = Conv2Plus1D(4, strides=2, padding="same", batch_norm_epsilon=1e-5)
    clips = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    layer.build(clips.shape)
    same.build(clips.shape)
    _random_weights(layer)
    same.set_weights(layer.get_weights())
    assert layer.batch_norm.epsilon == 1e-5 and layer.batch_norm.momentum == 0.9
    outputs = keras.ops.convert_to_numpy(layer(clips))
    expected = keras.ops.convert_to_numpy(_by_hand_with_symmetric_padding(layer, clips))
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-4)
    # Keras's "same" pads only the end where a stride of 2 meets an even size, both sides when it is odd.
    same_outputs = keras.ops.convert_to_numpy(same(clips))
    assert same_outputs.shape == outputs.shape
    if shape[0] % 2 == 0:
        assert np.abs(same_outputs - outputs).max() > 1e-2
    else:
        np.testing.assert_allclose(same_outputs, outputs, rtol=1e-5, atol=1e-4)


def test_intermediate_filters_override_and_output_activation():
    layer = Conv2Plus1D(4, intermediate_filters=7, activation="relu")
    outputs = layer(np.random.default_rng(0).normal(size=(1, 3, 4, 4, 2)).astype("float32"))
    assert layer.spatial_conv.filters == 7
    assert float(keras.ops.min(outputs)) >= 0.0


def test_rejects_inputs_that_are_not_clips():
    with pytest.raises(ValueError, match=r"\(batch, time, height, width, channels\)"):
        Conv2Plus1D(4)(np.zeros((2, 8, 8, 3), dtype="float32"))


@pytest.mark.parametrize(
    "arguments", [{"filters": 0}, {"filters": 4, "padding": "causal"}, {"filters": 4, "strides": (1, 2)}]
)
def test_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError):
        Conv2Plus1D(**arguments)


def test_get_config_round_trip():
    layer = Conv2Plus1D(
        6,
        kernel_size=(3, 5, 5),
        strides=(2, 1, 1),
        padding="symmetric",
        use_batch_norm=False,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        intermediate_activation="tanh",
        activation="relu",
        use_bias=False,
        name="factorised",
    )
    config = layer.get_config()
    clone = Conv2Plus1D.from_config(config)
    assert clone.get_config() == config
    assert config["kernel_size"] == (3, 5, 5) and config["strides"] == (2, 1, 1)
    assert config["padding"] == "symmetric" and config["batch_norm_epsilon"] == 1e-5


def test_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 8, 8, 3))
    x = Conv2Plus1D(6, strides=(1, 2, 2), name="factorised")(inputs)
    outputs = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    clips = rng.uniform(size=(2, 4, 8, 8, 3)).astype("float32")
    # Random values everywhere, batch-norm statistics included (positive for the variance).
    for weight in model.weights:
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
    path = tmp_path / "conv2plus1d.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("factorised"), Conv2Plus1D)
    np.testing.assert_allclose(loaded.predict(clips, verbose=0), model.predict(clips, verbose=0), atol=1e-6)
