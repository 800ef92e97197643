import keras
import numpy as np
import pytest

from videokit.layers import FeatureFusion

ATOL = 1e-5  # float32 sums of a few dozen products


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def streams():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 4, 4, 5)).astype("float32")
    b = rng.normal(size=(2, 3, 4, 4, 5)).astype("float32")
    return a, b


def test_sum_max_and_concat_match_numpy(streams):
    a, b = streams
    np.testing.assert_allclose(numpy(FeatureFusion("sum")([a, b])), a + b, atol=ATOL)
    np.testing.assert_allclose(numpy(FeatureFusion("max")([a, b])), np.maximum(a, b), atol=0)
    np.testing.assert_allclose(
        numpy(FeatureFusion("concat")([a, b])), np.concatenate([a, b], axis=-1), atol=0
    )


@pytest.mark.parametrize("maps, kernel_shape", [("2d", (1, 1)), ("3d", (1, 1, 1))])
def test_conv_is_a_1x1_convolution_of_the_concatenation(streams, maps, kernel_shape):
    # (batch, height, width, channels) or (batch, time, height, width, channels)
    a, b = (stream[:, 0] for stream in streams) if maps == "2d" else streams
    channels_in, filters = a.shape[-1] + b.shape[-1], 3
    layer = FeatureFusion("conv", filters=filters)
    layer.build([a.shape, b.shape])
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(channels_in, filters)).astype("float32")
    bias = rng.normal(size=(filters,)).astype("float32")
    layer.conv.set_weights([weights.reshape(kernel_shape + weights.shape), bias])
    expected = np.concatenate([a, b], axis=-1) @ weights + bias
    np.testing.assert_allclose(numpy(layer([a, b])), expected, atol=ATOL)


def test_conv_keeps_the_channels_by_default(streams):
    a, b = streams
    layer = FeatureFusion("conv")
    assert layer([a, b]).shape == a.shape
    assert layer.conv.kernel.shape == (1, 1, 1, 10, 5)


def test_bilinear_matches_numpy(streams):
    a, b = streams
    b = b[..., :3]  # the two streams may have different channels
    outer = np.einsum("nthwi,nthwj->nij", a, b).reshape(2, -1)  # summed over all locations
    signed_sqrt = np.sign(outer) * np.sqrt(np.abs(outer))
    expected = signed_sqrt / np.linalg.norm(signed_sqrt, axis=1, keepdims=True)
    output = numpy(FeatureFusion("bilinear")([a, b]))
    assert output.shape == (2, 5 * 3)
    np.testing.assert_allclose(output, expected, atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(output, axis=1), 1.0, atol=ATOL)


@pytest.mark.parametrize(
    "mode, expected_shape",
    [
        ("sum", (None, 6, 6, 4)),
        ("concat", (None, 6, 6, 8)),
        ("conv", (None, 6, 6, 4)),
        ("bilinear", (None, 16)),
    ],
)
def test_symbolic_output_shapes(mode, expected_shape):
    a, b = keras.Input((6, 6, 4)), keras.Input((6, 6, 4))
    assert FeatureFusion(mode)([a, b]).shape == expected_shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "mean"}, "mode must be one of"),
        ({"mode": "sum", "filters": 4}, "only used by mode='conv'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureFusion(**kwargs)


@pytest.mark.parametrize(
    "mode, shapes, match",
    [
        ("sum", [(2, 4, 4, 3)], "list of two tensors"),
        ("sum", [(2, 4, 4, 3), (2, 4, 4, 5)], "same shape"),
        ("concat", [(2, 4, 4, 3), (2, 5, 4, 3)], "every axis but channels"),
        ("concat", [(2, 4, 4, 3), (2, 16, 3)], "same rank"),
        ("conv", [(2, 3), (2, 3)], "maps"),
    ],
)
def test_bad_inputs_raise(mode, shapes, match):
    tensors = [np.zeros(shape, "float32") for shape in shapes]
    with pytest.raises(ValueError, match=match):
        FeatureFusion(mode)(tensors)


def test_config_and_keras_file_round_trip(streams, tmp_path):
    a, b = streams
    layer = FeatureFusion("conv", filters=6, name="fusion")
    assert FeatureFusion.from_config(layer.get_config()).get_config() == layer.get_config()
    inputs = [keras.Input(a.shape[1:]), keras.Input(b.shape[1:])]
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "fusion.keras")
    loaded = keras.models.load_model(tmp_path / "fusion.keras")
    assert loaded.get_layer("fusion").get_config() == layer.get_config()
    np.testing.assert_allclose(numpy(loaded([a, b])), numpy(model([a, b])), atol=0)
