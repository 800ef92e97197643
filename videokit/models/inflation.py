"""Inflate a 2D image network into a 3D video network, I3D style.

Carreira & Zisserman 2017, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset" (https://arxiv.org/abs/1705.07750), section 2.4: every 2D
kernel ``k x k`` becomes a ``t x k x k`` kernel, its weights repeated over
time and divided by ``t`` (or, in the "centre" variant, put in the middle time
slice with zeros around), so that on a *boring* video, one frame repeated, the
3D network computes exactly what the 2D network computes on that frame. The
ImageNet weights a user already has (``keras.applications.ResNet50(weights=
"resnet50.h5")``, or a model trained here) thereby start a video network.
"""

import keras
import numpy as np

from videokit.layers.edge_padded_conv3d import EdgePaddedConv3D

INITIALIZATIONS = ("mean", "center")

# Layers whose config works unchanged on clips: they act on the channel axis or element-wise.
_SAME_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Softmax,
    keras.layers.Dense,
    keras.layers.Dropout,
    keras.layers.Add,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Concatenate,
    keras.layers.Rescaling,
)
_POOLING = {
    keras.layers.MaxPooling2D: keras.layers.MaxPooling3D,
    keras.layers.AveragePooling2D: keras.layers.AveragePooling3D,
}
_GLOBAL_POOLING = {
    keras.layers.GlobalAveragePooling2D: keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling2D: keras.layers.GlobalMaxPooling3D,
}


def inflate(image_model, time_kernel=3, *, num_frames=None, initialization="mean", name=None):
    """Turn a 2D image network into a 3D network of clips, with its weights.

    Supported layers: `Conv2D` (becomes `EdgePaddedConv3D` with a time kernel
    of ``time_kernel`` where the spatial kernel is larger than 1x1, else 1),
    max and average pooling (``1 x p x p``), global pooling, `ZeroPadding2D`,
    and the layers that act on channels or element-wise (batch and layer
    normalization, activations, `Dense`, `Dropout`, `Add`, `Concatenate`...).
    This covers `keras.applications.ResNet50` and small Conv2D / BN / pooling
    networks. Any other layer (`Flatten`, `Reshape`, depthwise or separable
    convolutions, ...) is refused by name.

    The time axis is padded by repeating the first and last frames, so that a
    boring clip (one frame repeated) gives the 2D network's output exactly, at
    every frame and for any ``time_kernel``; with zero padding the first and
    last frames would differ.

    Args:
        image_model: a built functional or sequential `keras.Model` on images
            ``(batch, height, width, channels)``, with the weights to start
            from (load them yourself, e.g. ``weights="resnet50.h5"``).
        time_kernel: odd int, the time extent given to every convolution
            with a spatial kernel larger than 1x1.
        num_frames: frames per clip, or ``None`` for any number.
        initialization: ``"mean"`` (the 2D kernel repeated over time and
            divided by ``time_kernel``, as I3D) or ``"center"`` (the 2D kernel
            in the middle time slice, zeros elsewhere).
        name: the 3D model's name; by default the 2D one's plus ``"_inflated"``.

    Returns:
        A functional `keras.Model` on clips ``(batch, time, height, width,
        channels)`` with the image model's weights, inflated.

    Example:

    >>> image_model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, padding="same"),
    ...                                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> video_model = inflate(image_model, time_kernel=3)
    >>> frame = np.random.rand(1, 16, 16, 3).astype("float32")
    >>> boring = np.repeat(frame[:, None], 8, axis=1)  # one frame, 8 times
    >>> bool(np.allclose(video_model(boring), image_model(frame), atol=1e-5))
    True
    """
    if not isinstance(time_kernel, int) or time_kernel < 1 or time_kernel % 2 == 0:
        raise ValueError(f"inflate expects time_kernel to be an odd positive int; got {time_kernel!r}.")
    if initialization not in INITIALIZATIONS:
        raise ValueError(f"inflate expects initialization to be one of {INITIALIZATIONS}; got {initialization!r}.")
    if len(image_model.inputs) != 1 or len(image_model.input_shape) != 4:
        raise ValueError(
            "inflate expects a model of one image input (batch, height, width, channels); "
            f"got input shape {image_model.input_shape}."
        )
    for layer in image_model.layers:
        _check_supported(layer)
    clips = keras.Input((num_frames, *image_model.input_shape[1:]), name="clips")
    video_model = keras.models.clone_model(
        image_model, input_tensors=clips, clone_function=lambda layer: _inflated_layer(layer, time_kernel)
    )
    video_model = keras.Model(clips, video_model.outputs[0] if len(video_model.outputs) == 1 else video_model.outputs,
                              name=name or f"{image_model.name}_inflated")
    video_layers = {layer.name: layer for layer in video_model.layers}
    for layer in image_model.layers:
        if layer.weights:
            video_layers[layer.name].set_weights(_inflated_weights(layer, video_layers[layer.name], initialization))
    return video_model


def _check_supported(layer):
    supported = (keras.layers.InputLayer, keras.layers.Conv2D, keras.layers.ZeroPadding2D, *_SAME_LAYERS,
                 *_POOLING, *_GLOBAL_POOLING)
    if type(layer) not in supported and not isinstance(layer, _SAME_LAYERS):
        raise ValueError(
            f"inflate cannot inflate layer {layer.name!r} ({type(layer).__name__}); it supports Conv2D, "
            "pooling, ZeroPadding2D, and layers acting on channels (normalization, activations, Dense, Add...)."
        )
    if isinstance(layer, keras.layers.Conv2D) and (layer.groups != 1 or type(layer) is not keras.layers.Conv2D):
        raise ValueError(f"inflate cannot inflate layer {layer.name!r}: grouped or depthwise convolutions.")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"inflate expects channels_last layers; {layer.name!r} is {layer.data_format}.")


def _inflated_layer(layer, time_kernel):
    config = layer.get_config()
    if isinstance(layer, keras.layers.Conv2D):
        spatial = tuple(layer.kernel_size)
        time = time_kernel if spatial != (1, 1) else 1
        return EdgePaddedConv3D(
            layer.filters, (time, *spatial), strides=(1, *layer.strides), padding=layer.padding,
            dilation_rate=(1, *layer.dilation_rate), activation=config["activation"], use_bias=layer.use_bias,
            name=layer.name,
        )
    if type(layer) in _POOLING:
        return _POOLING[type(layer)](
            pool_size=(1, *layer.pool_size), strides=(1, *layer.strides), padding=layer.padding, name=layer.name
        )
    if type(layer) in _GLOBAL_POOLING:
        return _GLOBAL_POOLING[type(layer)](keepdims=layer.keepdims, name=layer.name)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return keras.layers.ZeroPadding3D(((0, 0), *layer.padding), name=layer.name)
    if "axis" in config:  # an axis of (batch, height, width, channels), counted in (batch, time, ...) clips
        config["axis"] = _clip_axis(config["axis"])
    return layer.__class__.from_config(config)


def _clip_axis(axis):
    if isinstance(axis, (list, tuple)):
        return type(axis)(_clip_axis(a) for a in axis)
    return axis + 1 if axis > 0 else axis


def _inflated_weights(layer, video_layer, initialization):
    weights = layer.get_weights()
    if not isinstance(layer, keras.layers.Conv2D):
        return weights
    kernel, *bias = weights
    time = video_layer.conv.kernel_size[0]
    if initialization == "mean":
        kernel_3d = np.repeat(kernel[None], time, axis=0) / time
    else:
        kernel_3d = np.zeros((time, *kernel.shape), kernel.dtype)
        kernel_3d[time // 2] = kernel
    return [kernel_3d, *bias]
