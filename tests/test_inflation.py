"""Inflating 2D networks into 3D ones (I3D): a boring clip gives the 2D network's output exactly."""

import keras
import numpy as np
import pytest

from videokit.layers import EdgePaddedConv3D
from videokit.models import inflate

RNG = np.random.default_rng(0)
FRAMES = RNG.random((2, 16, 16, 3)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def small_image_net(top=True):
    keras.utils.set_random_seed(0)
    layers = [
        keras.Input((16, 16, 3)),
        keras.layers.ZeroPadding2D(1),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, strides=2, padding="same"),
        keras.layers.Conv2D(6, 1),
    ]
    if top:
        layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")]
    model = keras.Sequential(layers, name="small_image_net")
    for variable in model.non_trainable_weights:  # batch-norm statistics that are not the identity
        variable.assign(RNG.uniform(0.5, 1.5, variable.shape).astype("float32"))
    return model


def boring(frames, time):
    return np.repeat(frames[:, None], time, axis=1)


@pytest.mark.parametrize("time_kernel", [1, 3, 5])
@pytest.mark.parametrize("initialization", ["mean", "center"])
def test_a_boring_clip_gives_the_image_networks_output(time_kernel, initialization):
    image_net = small_image_net()
    video_net = inflate(image_net, time_kernel, initialization=initialization)
    expected = numpy(image_net(FRAMES))
    np.testing.assert_allclose(numpy(video_net(boring(FRAMES, 6))), expected, rtol=1e-5, atol=1e-6)
    assert video_net.count_params() > image_net.count_params() or time_kernel == 1


def test_every_frame_of_a_boring_clip_is_the_image_output_even_at_the_ends():
    # Zero padding in time would change the first and last frames; repeating the edge frames does not.
    image_net = small_image_net(top=False)
    features = numpy(inflate(image_net, 5)(boring(FRAMES, 4)))
    for t in range(4):
        np.testing.assert_allclose(features[:, t], numpy(image_net(FRAMES)), rtol=1e-5, atol=1e-6)


def test_centre_initialisation_applies_the_image_network_to_every_frame():
    image_net = small_image_net(top=False)
    clips = RNG.random((2, 5, 16, 16, 3)).astype("float32")  # frames that differ
    features = numpy(inflate(image_net, 3, initialization="center")(clips))
    for t in range(5):
        np.testing.assert_allclose(features[:, t], numpy(image_net(clips[:, t])), rtol=1e-5, atol=1e-6)


def test_mean_initialisation_repeats_the_kernel_divided_by_the_time_kernel():
    image_net = small_image_net()
    video_net = inflate(image_net, 3)
    kernel_2d = image_net.get_layer(index=1).kernel  # the first Conv2D (after the padding)
    kernel_3d = video_net.get_layer(image_net.layers[1].name).conv.kernel
    np.testing.assert_allclose(numpy(kernel_3d), np.repeat(numpy(kernel_2d)[None], 3, axis=0) / 3, rtol=1e-6)


def test_resnet50_from_keras_applications_inflates():
    keras.utils.set_random_seed(1)
    image_net = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=4)
    video_net = inflate(image_net, 3)
    frame = RNG.random((1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(numpy(video_net(boring(frame, 3))), numpy(image_net(frame)), rtol=1e-4, atol=1e-5)
    assert video_net.input_shape == (None, None, 32, 32, 3)


@pytest.mark.parametrize("layer, problem", [
    (keras.layers.Flatten(name="flat"), "cannot inflate layer 'flat' \\(Flatten\\)"),
    (keras.layers.DepthwiseConv2D(3, name="depthwise"), "cannot inflate layer 'depthwise'"),
])
def test_unsupported_layers_are_refused_by_name(layer, problem):
    image_net = keras.Sequential([keras.Input((8, 8, 3)), layer])
    with pytest.raises(ValueError, match=problem):
        inflate(image_net)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="odd positive int; got 2"):
        inflate(small_image_net(), 2)
    with pytest.raises(ValueError, match=r"one of \('mean', 'center'\); got 'random'"):
        inflate(small_image_net(), 3, initialization="random")
    with pytest.raises(ValueError, match="odd time kernel"):
        EdgePaddedConv3D(2, (2, 3, 3))


def test_an_inflated_network_round_trips_through_a_keras_file(tmp_path):
    video_net = inflate(small_image_net(), 3, num_frames=4)
    video_net.save(tmp_path / "inflated.keras")
    clips = RNG.random((2, 4, 16, 16, 3)).astype("float32")
    reloaded = keras.saving.load_model(tmp_path / "inflated.keras")
    np.testing.assert_allclose(numpy(reloaded(clips)), numpy(video_net(clips)), atol=1e-6)
