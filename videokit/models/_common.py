"""What every model builder shares: the preset rule, the clip-shape check, the classifier head.

The preset rule, the same in every family (the rule of Keras applications and
timm, where a model's name means the published model):

* ``preset=None`` is the paper (published) configuration;
* ``preset="small"`` trains in seconds on two CPU cores;
* every argument given explicitly (not ``None``) overrides the preset.

Each family keeps its presets as data, a dict ``{"paper": {...}, "small":
{...}}`` of builder arguments, next to its builders, and resolves them here.
"""

import inspect
import numbers
import textwrap

import keras

INPUT_NAME = "clips"
POOLINGS = (None, "avg", "max")


def resolve_preset(model, presets, preset, **arguments):
    """The builder's settings: the preset's values, replaced by every argument that is not ``None``.

    Args:
        model: the builder's name, for the error message (e.g. ``"c3d"``).
        presets: ``{preset name: {argument: value}}``; every preset names the
            same arguments.
        preset: ``None`` (the paper configuration) or a key of ``presets``.
        **arguments: the builder's arguments as given, ``None`` for "from the
            preset".

    Returns:
        A new dict ``{argument: value}``.

    Raises:
        ValueError: ``preset`` is not ``None`` nor a key of ``presets``.

    Example:

    >>> presets = {"paper": {"units": 4096}, "small": {"units": 64}}
    >>> resolve_preset("mlp", presets, None, units=None)
    {'units': 4096}
    >>> resolve_preset("mlp", presets, "small", units=8)
    {'units': 8}
    """
    name = "paper" if preset is None else preset
    if not isinstance(name, str) or name not in presets:
        raise ValueError(f"{model} expects preset to be None or one of {sorted(presets)}; got {preset!r}.")
    settings = dict(presets[name])
    settings.update({key: value for key, value in arguments.items() if value is not None})
    return settings


def clip_shape_error(model, argument, shape, requirement):
    """The one ``ValueError`` for a clip shape a builder cannot take.

    Args:
        model: the builder's name.
        argument: ``"input_shape"`` or ``"output_shape"``.
        shape: the shape received.
        requirement: what else the builder needs, e.g. ``"time >= 8"``.

    Returns:
        A `ValueError` to raise.
    """
    return ValueError(
        f"{model} expects {argument}=(time, height, width, channels), one clip without the batch "
        f"axis, with {requirement}; got {argument}={shape!r}."
    )


def check_clip_shape(model, shape, *, argument="input_shape", unknown=(), min_frames=1, min_size=1, why=None):
    """Check that ``shape`` is one clip ``(time, height, width, channels)`` the builder can take.

    Args:
        model: the builder's name, for the error message.
        shape: the shape to check.
        argument: the argument's name, for the error message.
        unknown: the axes that may be ``None`` (any size): a tuple of
            ``"time"``, ``"height"``, ``"width"``.
        min_frames: the smallest time the builder takes.
        min_size: the smallest height and width the builder takes.
        why: why the builder needs ``min_frames`` or ``min_size``, or ``None``.

    Returns:
        The shape as a tuple.

    Raises:
        ValueError: in the one phrasing of `clip_shape_error`.

    Example:

    >>> check_clip_shape("c3d", [16, 112, 112, 3])
    (16, 112, 112, 3)
    """
    requirement = "positive int sizes"
    if unknown:
        requirement += f" ({' and '.join(unknown)} may be None)"
    if min_frames > 1:
        requirement += f", time >= {min_frames}"
    if min_size > 1:
        requirement += f", height and width >= {min_size}"
    if why:
        requirement += f" ({why})"
    try:
        sizes = tuple(shape)
    except TypeError:
        raise clip_shape_error(model, argument, shape, requirement) from None
    axes = ("time", "height", "width", "channels")
    known = len(sizes) == 4 and all(
        (size is None and axis in unknown) or (isinstance(size, numbers.Integral) and size > 0)
        for axis, size in zip(axes, sizes)
    )
    if not known:
        raise clip_shape_error(model, argument, shape, requirement)
    time, height, width, _ = sizes
    if (time is not None and time < min_frames) or any(
        size is not None and size < min_size for size in (height, width)
    ):
        raise clip_shape_error(model, argument, shape, requirement)
    return sizes


def clip_input(shape):
    """The ``keras.Input`` of every classifier and predictor, named ``"clips"``."""
    return keras.Input(tuple(shape), name=INPUT_NAME)


def check_head(model, *, include_top, pooling, num_classes):
    """Check the arguments of `classifier_head` before a model is built.

    Raises:
        ValueError: ``pooling`` is not ``None``, ``"avg"`` or ``"max"``, or
            ``include_top`` is true and ``num_classes`` is not a positive int.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"{model} expects pooling to be one of {POOLINGS}; got {pooling!r}.")
    if include_top and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1
    ):
        raise ValueError(f"{model} expects num_classes to be a positive int; got {num_classes!r}.")


def classifier_head(features, *, top, include_top, pooling, num_classes, classifier_activation):
    """The head of every classifier, in the style of Keras applications.

    With ``include_top``, ``top(features)`` (the family's own layers between
    its features and the classifier: flatten and fully connected layers,
    global pooling, dropout) and a ``Dense(num_classes)`` named
    ``"predictions"``, which computes in float32 also under a mixed precision
    policy. Without it, the features themselves, pooled over every axis but
    the channels when ``pooling`` is ``"avg"`` or ``"max"``: an encoder for
    features, fine-tuning or a new head.

    Args:
        features: the family's last feature tensor.
        top: a function from ``features`` to the vector the classifier reads.
        include_top: bool, add ``top`` and the classifier.
        pooling: ``None``, ``"avg"`` or ``"max"``, used when not
            ``include_top``; ``None`` keeps the feature map.
        num_classes: int, the classifier's units.
        classifier_activation: the classifier's activation, ``"softmax"``
            or ``None`` for logits.

    Returns:
        The model's output tensor.
    """
    if include_top:
        return keras.layers.Dense(
            num_classes, activation=classifier_activation, dtype="float32", name="predictions"
        )(top(features))
    rank = len(features.shape)
    if pooling is None or rank == 2:
        return features
    layers = {
        "avg": (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
                keras.layers.GlobalAveragePooling3D),
        "max": (keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D, keras.layers.GlobalMaxPooling3D),
    }
    return layers[pooling][rank - 3](name=f"{pooling}_pool")(features)


HEAD_ARGS_DOC = """\
        include_top: bool, whether to end in the classifier. Without it the
            model returns its features (see ``pooling``): an encoder for
            features, fine-tuning or a new head.
        pooling: with ``include_top=False``, ``None`` (the last feature map
            as it is), ``"avg"`` or ``"max"`` (pooled over every axis but the
            channels).
        classifier_activation: activation of the ``"predictions"`` layer,
            ``"softmax"`` or ``None`` for logits. It computes in float32, also
            under a mixed precision policy.
"""


def with_args_doc(text):
    """Decorator: appends ``text`` (argument entries) to the ``Args:`` section of a builder's docstring.

    Arguments every builder of a family shares are documented once, like the
    ``DOC`` of Keras applications; ``help(builder)`` shows them all.

    Args:
        text: argument entries indented by 8 spaces, one per line or more.

    Returns:
        The decorator.
    """

    def decorate(builder):
        # Cleaned first: Python 3.13 strips docstrings' indentation when compiling, 3.11 and 3.12 do not.
        doc = inspect.cleandoc(builder.__doc__)
        start = doc.index("\nArgs:\n") + len("\nArgs:\n")
        end = doc.find("\n\n", start)  # the blank line that ends the section
        end = len(doc) if end < 0 else end
        entries = textwrap.indent(textwrap.dedent(text), "    ").rstrip("\n")
        builder.__doc__ = f"{doc[:end]}\n{entries}{doc[end:]}"
        return builder

    return decorate


def uses_presets(presets):
    """Decorator: records a builder's presets as ``builder.presets``, like keras-hub's ``Backbone.presets``.

    Args:
        presets: the dict of presets the builder resolves with `resolve_preset`.

    Returns:
        The decorator.

    Example:

    >>> from videokit.models import c3d
    >>> sorted(c3d.presets)
    ['paper', 'small']
    """

    def decorate(builder):
        builder.presets = presets
        return builder

    return decorate
