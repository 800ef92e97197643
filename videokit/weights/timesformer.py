"""Hugging Face TimeSformer checkpoints as videokit's `timesformer`.

Supported: ``TimesformerForVideoClassification`` checkpoints with divided
space-time attention, the attention of every published one:

* ``facebook/timesformer-base-finetuned-k400`` / ``-k600`` (8 x 224 x 224),
* ``facebook/timesformer-hr-finetuned-k400`` / ``-k600`` (16 x 448 x 448),
* ``facebook/timesformer-base-finetuned-ssv2`` and ``-hr-finetuned-ssv2``,

and fine-tunes of them (another ``num_labels``, ``num_frames`` or
``image_size``), as a folder (``config.json`` and ``model.safetensors`` or
``pytorch_model.bin``) or, with ``architecture=``, a lone weights file (its
sizes then read from the weights' shapes, the heads as ``hidden_size / 64``).
Not supported: ``attention_type`` ``"joint_space_time"`` or ``"space_only"``,
``qkv_bias=False``, an activation other than GELU, and clips of another size
than the checkpoint's (Hugging Face interpolates the position tables then;
videokit builds the model at the checkpoint's size).

What the reference computes, and where videokit's model does the same (found
in transformers' ``modeling_timesformer.py``):

* patch embedding: a ``Conv2d`` per frame == `TubeletEmbedding` with 1 x p x p
  tubelets; the class token gets ``position_embeddings[0]``, patch ``s`` of
  frame ``t`` gets ``position_embeddings[1 + s] + time_embeddings[t]``
  (`SpaceTimePositionEmbedding`, separable);
* each layer: temporal attention among one position's frames (``qkv`` split
  into query, key, value; ``attention.output.dense`` is the output
  projection), then ``temporal_dense``, a residual; spatial attention among
  one frame's patches and a copy of the class token, the class token taking
  the mean of its copies' results, a residual; a GELU (erf) MLP with a
  residual (`DividedSpaceTimeBlock`); pre-norm layer normalisations with
  ``layer_norm_eps`` (1e-6), a final one, a linear classifier on the class
  token.
* Hugging Face orders the patch tokens position-major, videokit frame-major;
  each attention sees the same sets, so the class token, hence the logits,
  are the same.

The checkpoints' preprocessing (their ``preprocessor_config.json``):
``(pixels - 0.45) / 0.225`` on every channel; the imported model does it as its
first step (``pixel_mean``, ``pixel_std`` of `timesformer`), so it takes clips
``(batch, time, height, width, 3)`` of pixels in ``[0, 1]``, and
``model(clips)`` == ``reference(((clips - 0.45) / 0.225).transpose(0, 1, 4, 2, 3))``.
"""

import re

import numpy as np

from videokit.models.video_transformers import timesformer

# facebook/timesformer-*'s preprocessor_config.json (VideoMAEImageProcessor).
PIXEL_MEAN = (0.45, 0.45, 0.45)
PIXEL_STD = (0.225, 0.225, 0.225)

_LAYER = re.compile(r"^timesformer\.encoder\.layer\.(\d+)\.")


def convert(state_dict, config, *, pixel_mean=PIXEL_MEAN, pixel_std=PIXEL_STD, classifier_activation="softmax"):
    """A videokit `timesformer` with a Hugging Face TimeSformer checkpoint's weights.

    Args:
        state_dict: ``{name: numpy array}`` of a
            ``TimesformerForVideoClassification`` checkpoint.
        config: its ``config.json`` as a dict, or ``None`` to read the sizes
            from the weights' shapes.
        pixel_mean: the per-channel mean the checkpoint's preprocessing
            subtracts from pixels in ``[0, 1]``.
        pixel_std: the per-channel standard deviation it divides by.
        classifier_activation: ``"softmax"`` (class probabilities, as every
            videokit classifier) or ``None`` (the checkpoint's ``logits``).

    Returns:
        A `keras.Model` from clips ``(batch, num_frames, image_size,
        image_size, 3)`` in ``[0, 1]`` to ``(batch, num_labels)``
        probabilities (or logits).

    Raises:
        KeyError: a weight the architecture needs is missing (its name).
        ValueError: a configuration videokit does not reproduce, a weight of
            the wrong shape, or weights the model has no place for.
    """
    settings = _settings(state_dict, config)
    values = _keras_values(state_dict, settings)  # a missing weight fails here, before building
    used = {name for name in state_dict if name in _used_names(settings)}
    unused = sorted(set(state_dict) - used)
    if unused:
        raise ValueError(
            f"the checkpoint has weights the {settings['num_hidden_layers']}-layer TimeSformer of its "
            f"config does not use: {unused[:5]}{' ...' if len(unused) > 5 else ''}."
        )
    model = timesformer(
        input_shape=(settings["num_frames"], *settings["image_size"], settings["num_channels"]),
        num_classes=settings["num_labels"],
        patch_size=settings["patch_size"],
        embed_dim=settings["hidden_size"],
        depth=settings["num_hidden_layers"],
        num_heads=settings["num_attention_heads"],
        mlp_dim=settings["intermediate_size"],
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
        layer_norm_epsilon=settings["layer_norm_eps"],
        classifier_activation=classifier_activation,
        name="timesformer",
    )
    for variable in model.weights:
        value, source = values.pop(variable.path)
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"TimeSformer weight {source} gives {variable.path} the shape {tuple(value.shape)}; "
                f"the model built from the config expects {tuple(variable.shape)}."
            )
        variable.assign(value.astype(variable.dtype))
    if values:
        raise ValueError(f"TimeSformer import left weights without a place: {sorted(values)}.")
    return model


def _settings(state_dict, config):
    """The architecture's sizes: from ``config.json``, or read from the weights' shapes."""
    if config is None:
        config = _config_from_shapes(state_dict)
    settings = {
        "image_size": 224,
        "patch_size": 16,
        "num_channels": 3,
        "num_frames": 8,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-6,
        "qkv_bias": True,
        "attention_type": "divided_space_time",
    }
    settings.update({key: config[key] for key in settings if key in config})
    if "num_labels" in config:
        settings["num_labels"] = config["num_labels"]
    elif "id2label" in config:
        settings["num_labels"] = len(config["id2label"])
    else:
        settings["num_labels"] = int(state_dict["classifier.weight"].shape[0])
    requirements = {
        "attention_type": ("divided_space_time", "divided space-time attention"),
        "qkv_bias": (True, "query, key and value biases"),
        "hidden_act": ("gelu", "an erf GELU MLP"),
    }
    for key, (wanted, meaning) in requirements.items():
        if settings[key] != wanted:
            raise ValueError(
                f"videokit imports TimeSformer checkpoints with {key}={wanted!r} ({meaning}); "
                f"this one has {key}={settings[key]!r}."
            )
    size = settings["image_size"]
    settings["image_size"] = (size, size) if isinstance(size, int) else tuple(size)
    if isinstance(settings["patch_size"], (list, tuple)):
        if len(set(settings["patch_size"])) != 1:
            raise ValueError(
                f"videokit imports TimeSformer checkpoints with square patches; got "
                f"patch_size={settings['patch_size']!r}."
            )
        settings["patch_size"] = settings["patch_size"][0]
    if settings["image_size"][0] != settings["image_size"][1]:
        # The reference reshapes tokens with image_size // patch_size patches per row.
        raise ValueError(
            f"videokit imports TimeSformer checkpoints of square frames; got image_size={size!r}."
        )
    return settings


def _config_from_shapes(state_dict):
    """What ``config.json`` would say, from the weights of a lone file (heads: ``hidden_size / 64``)."""
    projection = state_dict["timesformer.embeddings.patch_embeddings.projection.weight"]
    hidden, channels, patch, _ = projection.shape
    patches = state_dict["timesformer.embeddings.position_embeddings"].shape[1] - 1
    side = int(round(patches**0.5))
    layers = {int(match.group(1)) for match in map(_LAYER.match, state_dict) if match}
    return {
        "hidden_size": int(hidden),
        "num_channels": int(channels),
        "patch_size": int(patch),
        "image_size": side * int(patch),
        "num_frames": int(state_dict["timesformer.embeddings.time_embeddings"].shape[1]),
        "num_hidden_layers": len(layers),
        "num_attention_heads": max(1, int(hidden) // 64),
        "intermediate_size": int(
            state_dict["timesformer.encoder.layer.0.intermediate.dense.weight"].shape[0]
        ),
    }


def _dense(state_dict, name):
    """A ``torch.nn.Linear``'s weight (out, in) and bias as a Keras ``Dense``'s kernel (in, out) and bias.

    Each value is a pair ``(array, checkpoint name)``, as every value of `_keras_values`.
    """
    return (state_dict[f"{name}.weight"].T, f"{name}.weight"), (state_dict[f"{name}.bias"], f"{name}.bias")


def _norm(state_dict, name):
    return (state_dict[f"{name}.weight"], f"{name}.weight"), (state_dict[f"{name}.bias"], f"{name}.bias")


def _attention(values, state_dict, keras_name, name):
    """Hugging Face's fused ``qkv`` (3 * dim, dim) split into videokit's query, key and value."""
    qkv_weight, qkv_bias = state_dict[f"{name}.attention.qkv.weight"], state_dict[f"{name}.attention.qkv.bias"]
    dim = qkv_weight.shape[1]
    if qkv_weight.shape[0] != 3 * dim:
        raise ValueError(
            f"TimeSformer weight {name}.attention.qkv.weight has shape {qkv_weight.shape}; "
            f"expected (3 * {dim}, {dim})."
        )
    for index, part in enumerate(("query", "key", "value")):
        rows = slice(index * dim, (index + 1) * dim)
        where = f"[{rows.start}:{rows.stop}]"
        values[f"{keras_name}/{part}/kernel"] = (qkv_weight[rows].T, f"{name}.attention.qkv.weight{where}")
        values[f"{keras_name}/{part}/bias"] = (qkv_bias[rows], f"{name}.attention.qkv.bias{where}")
    kernel, bias = _dense(state_dict, f"{name}.output.dense")
    values[f"{keras_name}/output/kernel"], values[f"{keras_name}/output/bias"] = kernel, bias


def _keras_values(state_dict, settings):
    """``{videokit variable path: (array, checkpoint name)}`` for every weight of the model."""
    values = {}
    e = "timesformer.embeddings."

    def take(name):
        return state_dict[e + name], e + name

    projection, source = take("patch_embeddings.projection.weight")
    # Conv2d (out, in, h, w) per frame -> Conv3D kernel (1, h, w, in, out).
    values["patch_embedding/projection/kernel"] = (projection.transpose(2, 3, 1, 0)[None], source)
    values["patch_embedding/projection/bias"] = take("patch_embeddings.projection.bias")
    values["add_class_token/token"] = take("cls_token")
    positions, source = take("position_embeddings")
    values["position_embedding/class_position"] = (positions[0, :1], f"{source}[0, :1]")
    values["position_embedding/space"] = (positions[0, 1:], f"{source}[0, 1:]")
    times, source = take("time_embeddings")
    values["position_embedding/time"] = (times[0], f"{source}[0]")
    for index in range(settings["num_hidden_layers"]):
        layer, block = f"timesformer.encoder.layer.{index}", f"block{index}"
        pairs = {
            "temporal_norm": _norm(state_dict, f"{layer}.temporal_layernorm"),
            "temporal_dense": _dense(state_dict, f"{layer}.temporal_dense"),
            "spatial_norm": _norm(state_dict, f"{layer}.layernorm_before"),
            "mlp_norm": _norm(state_dict, f"{layer}.layernorm_after"),
            "mlp_hidden": _dense(state_dict, f"{layer}.intermediate.dense"),
            "mlp_output": _dense(state_dict, f"{layer}.output.dense"),
        }
        for keras_name, (first, second) in pairs.items():
            kinds = ("gamma", "beta") if keras_name.endswith("norm") else ("kernel", "bias")
            values[f"{block}/{keras_name}/{kinds[0]}"] = first
            values[f"{block}/{keras_name}/{kinds[1]}"] = second
        _attention(values, state_dict, f"{block}/temporal_attention", f"{layer}.temporal_attention")
        _attention(values, state_dict, f"{block}/spatial_attention", f"{layer}.attention")
    values["final_norm/gamma"], values["final_norm/beta"] = _norm(state_dict, "timesformer.layernorm")
    values["predictions/kernel"], values["predictions/bias"] = _dense(state_dict, "classifier")
    return values


def _used_names(settings):
    """The checkpoint names the converter reads."""
    names = {
        f"timesformer.embeddings.{name}"
        for name in (
            "patch_embeddings.projection.weight",
            "patch_embeddings.projection.bias",
            "cls_token",
            "position_embeddings",
            "time_embeddings",
        )
    }
    for index in range(settings["num_hidden_layers"]):
        layer = f"timesformer.encoder.layer.{index}"
        for module in (
            "temporal_layernorm", "temporal_dense", "layernorm_before", "layernorm_after",
            "intermediate.dense", "output.dense", "attention.attention.qkv", "attention.output.dense",
            "temporal_attention.attention.qkv", "temporal_attention.output.dense",
        ):
            names |= {f"{layer}.{module}.weight", f"{layer}.{module}.bias"}
    names |= {"timesformer.layernorm.weight", "timesformer.layernorm.bias", "classifier.weight", "classifier.bias"}
    return names
