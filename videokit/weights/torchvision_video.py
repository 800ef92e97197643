"""torchvision's video ResNets, with the Kinetics-400 weights a user has downloaded, as videokit models.

Supported checkpoints (state dicts of ``torchvision.models.video``, read from
a ``.pth`` file or a ``.safetensors`` file of the same names):

* ``r3d_18`` (``R3D_18_Weights.KINETICS400_V1``, ``r3d_18-b3b3357e.pth``)
  becomes ``videokit.models.r3d(preset="torchvision")``;
* ``mc3_18`` (``MC3_18_Weights.KINETICS400_V1``, ``mc3_18-a90a0ba3.pth``)
  becomes ``videokit.models.mc3(preset="torchvision")``;
* ``r2plus1d_18`` (``R2Plus1D_18_Weights.KINETICS400_V1``,
  ``r2plus1d_18-91a641e6.pth``) becomes
  ``videokit.models.r2plus1d(preset="torchvision")``.

A model fine-tuned from them imports too: the number of classes is read from
``fc.weight`` and the number of blocks per stage from the layer names. A lone
``.pth`` file does not say which network it holds, so the architecture is
given (``import_weights(path, architecture="r3d_18")``, ``videokit
import-weights r3d_18-b3b3357e.pth --architecture r3d_18 --output r3d_18.keras``);
given the wrong one of the three, the error names the right one.

The imported model takes videokit's clips ``(batch, time, height, width, 3)``
of pixels in ``[0, 1]``, of any length and size (as torchvision's models,
which end in an adaptive average pooling), and takes Kinetics' mean and
standard deviation out of them as its first step, as torchvision's
``VideoClassification`` transform does before the model (that transform
also resizes to 128x171 and crops 112x112: do the same for its accuracy). It
returns class probabilities: ``log(model(clips))`` equals torchvision's
``log_softmax(model((clips - mean) / std))`` with the clips as
``(batch, 3, time, height, width)``; built with
``classifier_activation=None`` and given these weights, it returns the
logits themselves.

Example:

>>> from videokit.weights import import_weights
>>> model = import_weights("r3d_18-b3b3357e.pth", architecture="r3d_18")  # doctest: +SKIP
>>> model(clips).shape  # clips: (batch, 16, 112, 112, 3) in [0, 1]  # doctest: +SKIP
(batch, 400)
"""

import re

import numpy as np

# architecture -> the videokit builder of its network
_BUILDERS = {"r3d_18": "r3d", "mc3_18": "mc3", "r2plus1d_18": "r2plus1d"}
_STAGES = 4
_BLOCK_LAYER = re.compile(r"^stage(\d+)_block(\d+)_(conv1|conv2|shortcut)(_bn)?$")


def convert_r3d_18(state_dict, config=None):
    """torchvision's ``r3d_18`` state dict as ``videokit.models.r3d(preset="torchvision")``.

    Args:
        state_dict: ``{name: numpy array}``, as `videokit.weights.read_state_dict` reads it.
        config: unused (a ``.pth`` file has none).

    Returns:
        The `keras.Model`, with the checkpoint's weights.

    Raises:
        KeyError: a weight the network needs is missing (its name).
        ValueError: a weight has another shape than the network's, the
            checkpoint holds weights the network does not use, or it is one
            of the other two architectures.
    """
    return _convert("r3d_18", state_dict)


def convert_mc3_18(state_dict, config=None):
    """torchvision's ``mc3_18`` state dict as ``videokit.models.mc3(preset="torchvision")``; see `convert_r3d_18`."""
    return _convert("mc3_18", state_dict)


def convert_r2plus1d_18(state_dict, config=None):
    """torchvision's ``r2plus1d_18`` state dict as ``videokit.models.r2plus1d(preset="torchvision")``; see `convert_r3d_18`."""
    return _convert("r2plus1d_18", state_dict)


def recognise(state_dict):
    """Which of ``r3d_18``, ``mc3_18`` and ``r2plus1d_18`` a state dict looks like, or ``None``.

    R(2+1)D's stem has a second convolution (``stem.3.weight``); MC3's second
    stage convolves ``1x3x3``, R3D's ``3x3x3``.
    """
    if "stem.3.weight" in state_dict:
        return "r2plus1d_18"
    kernel = state_dict.get("layer2.0.conv1.0.weight")
    if kernel is None or np.ndim(kernel) != 5:
        return None
    return "mc3_18" if kernel.shape[2] == 1 else "r3d_18"


def _convert(architecture, state_dict):
    from videokit import models

    state_dict = _without_data_parallel_prefix(state_dict)
    found = recognise(state_dict)
    if found not in (None, architecture):
        raise ValueError(
            f"these are {found}'s weights, not {architecture}'s; pass architecture={found!r} (--architecture {found})."
        )
    builder = getattr(models, _BUILDERS[architecture])
    model = builder(
        (None, None, None, 3),
        int(state_dict["fc.weight"].shape[0]),
        preset="torchvision",
        blocks_per_stage=_blocks_per_stage(state_dict),
        name=architecture,
    )
    _load(model, state_dict, architecture)
    return model


def _without_data_parallel_prefix(state_dict):
    """A state dict saved from ``nn.DataParallel`` names every weight ``module.<name>``."""
    if state_dict and all(name.startswith("module.") for name in state_dict):
        return {name.removeprefix("module."): value for name, value in state_dict.items()}
    return state_dict


def _blocks_per_stage(state_dict):
    blocks = []
    for stage in range(1, _STAGES + 1):
        count = 0
        while f"layer{stage}.{count}.conv1.1.weight" in state_dict:
            count += 1
        if count == 0:
            raise KeyError(f"layer{stage}.0.conv1.1.weight")
        blocks.append(count)
    return tuple(blocks)


def load_torchvision_weights(model, state_dict):
    """Set a videokit video ResNet's weights from a torchvision ``VideoResNet`` state dict.

    ``model`` is an `r3d`, `mc3` or `r2plus1d` built with the checkpoint's
    architecture (``preset="torchvision"``, its number of classes and blocks);
    it may differ from the imported model in what does not hold weights, e.g.
    ``classifier_activation=None`` or a fixed ``input_shape``.

    Raises:
        KeyError: a weight the model needs is missing (its name).
        ValueError: a weight's shape differs, or the state dict holds weights
            the model does not use.
    """
    _load(model, _without_data_parallel_prefix(state_dict), model.name)


# A PyTorch Conv3d kernel (out, in, time, height, width) as Keras's (time, height, width, in, out).
_CONV_LAYOUT = (2, 3, 4, 1, 0)


def _load(model, state_dict, architecture):
    used = set()

    def take(name, variable, layout=None):
        value = np.asarray(state_dict[name])
        converted = value if layout is None else np.transpose(value, layout)
        if converted.shape != tuple(variable.shape):
            expected = tuple(variable.shape)
            if layout is not None:
                expected = tuple(expected[axis] for axis in np.argsort(layout))
            raise ValueError(
                f"{architecture}: the checkpoint's {name} has shape {value.shape}; the model's "
                f"{variable.path} needs {expected}."
            )
        variable.assign(converted.astype(variable.dtype))
        used.add(name)

    def batch_norm(layer, prefix):
        for variable, name in ((layer.gamma, "weight"), (layer.beta, "bias"),
                               (layer.moving_mean, "running_mean"), (layer.moving_variance, "running_var")):
            take(f"{prefix}.{name}", variable)

    spatio_temporal_stem = hasattr(model.get_layer("stem_conv"), "spatial_conv")
    for layer in model.layers:
        if not layer.weights:
            continue
        kind, prefix = _source(layer.name, spatio_temporal_stem)
        if kind == "fc":
            take(f"{prefix}.weight", layer.kernel, (1, 0))
            take(f"{prefix}.bias", layer.bias)
        elif kind == "bn":
            batch_norm(layer, prefix)
        elif hasattr(layer, "spatial_conv"):  # Conv2Plus1D: torchvision's nn.Sequential(conv, BN, ReLU, conv)
            take(f"{prefix}.0.weight", layer.spatial_conv.kernel, _CONV_LAYOUT)
            batch_norm(layer.batch_norm, f"{prefix}.1")
            take(f"{prefix}.3.weight", layer.temporal_conv.kernel, _CONV_LAYOUT)
        else:
            take(f"{prefix}.weight", layer.kernel, _CONV_LAYOUT)
    unused = sorted(name for name in set(state_dict) - used if not name.endswith("num_batches_tracked"))
    if unused:
        raise ValueError(
            f"{architecture}: the checkpoint holds {len(unused)} weights the model does not use, e.g. "
            f"{unused[:3]}; is it another network?"
        )


def _source(layer_name, spatio_temporal_stem):
    """``(kind, torchvision prefix)`` of a videokit video ResNet's layer; kind is "conv", "bn" or "fc".

    videokit's ``stage<s>_block<b>_<conv1|conv2|shortcut>[_bn]`` is torchvision's
    ``layer<s>.<b - 1>.<conv1|conv2|downsample>.<0 (convolution) | 1 (batch norm)>``.
    """
    if layer_name == "stem_conv":
        return "conv", "stem" if spatio_temporal_stem else "stem.0"
    if layer_name == "stem_bn":
        return "bn", "stem.4" if spatio_temporal_stem else "stem.1"
    if layer_name == "predictions":
        return "fc", "fc"
    match = _BLOCK_LAYER.match(layer_name)
    if match is None:
        raise ValueError(f"no torchvision weights for the layer {layer_name!r}: is the model a video ResNet?")
    stage, block, part, is_batch_norm = match.groups()
    prefix = f"layer{stage}.{int(block) - 1}.{'downsample' if part == 'shortcut' else part}"
    return ("bn", f"{prefix}.1") if is_batch_norm else ("conv", f"{prefix}.0")
