"""Start a run from weights a user already has, and fine-tune it: freezing, unfreezing, discriminative rates.

Keras-io's transfer-learning recipe, for videokit's runs: every layer of the new
model whose name and weight shapes match a layer of the source takes its
weights; the rest (typically the ``"predictions"`` head, when the classes
differ) keeps its fresh initialisation, and the run says which. Freezing the
backbone trains only the head; a later run (``--init-from`` the frozen one)
can then fine-tune everything at a lower learning rate, or the same run can
unfreeze the backbone after some epochs (``stages``, ``unfreeze``).
``DiscriminativeAdam`` scales the backbone's updates relative to the head's
(discriminative learning rates, Howard and Ruder 2018), on every backend.
"""

import pathlib

import keras

FREEZE = ("none", "backbone")
HEAD = "predictions"


def source_model(source):
    """The model weights are taken from: a run directory's trained model, or a ``.keras`` file."""
    path = pathlib.Path(source)
    if path.is_dir():
        from videokit.training.using import load_run

        return load_run(path)[1]
    if path.suffix == ".keras" and path.is_file():
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as error:  # a damaged or foreign file: one line, naming it
            raise ValueError(f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error}).") from None
    raise ValueError(f"--init-from expects a videokit run directory or a .keras file; {source} is neither.")


def initialise_from(model, source):
    """Copy into ``model`` the weights of every layer of ``source`` with the same name and weight shapes.

    Args:
        model: the new model (built).
        source: a `keras.Model`, a run directory or a ``.keras`` file.

    Returns:
        ``(copied, skipped)``: the names of the layers that took the
        source's weights, and ``{name: why}`` for the layers with weights that
        did not.

    Example:

    >>> copied, skipped = initialise_from(c3d(num_classes=5, preset="small"), "runs/c3d")  # doctest: +SKIP
    >>> skipped  # doctest: +SKIP
    {'predictions': 'shapes (128, 5), (5,) here, (128, 8), (8,) in the source'}
    """
    source = source if isinstance(source, keras.Model) else source_model(source)
    available = {layer.name: layer for layer in source.layers}
    copied, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        other = available.get(layer.name)
        if other is None:
            skipped[layer.name] = "not in the source"
            continue
        shapes, other_shapes = _shapes(layer), _shapes(other)
        if shapes != other_shapes:
            skipped[layer.name] = f"shapes {_describe(shapes)} here, {_describe(other_shapes)} in the source"
            continue
        layer.set_weights(other.get_weights())
        copied.append(layer.name)
    if not copied:
        raise ValueError("--init-from: no layer of the source matches the model by name and weight shapes; "
                         "is it the same model family?")
    return copied, skipped


def freeze(model, what):
    """Freeze ``"backbone"`` (every layer but the ``"predictions"`` head) or nothing; recompiles ``model``.

    Returns:
        The number of weights left trainable.
    """
    if what not in FREEZE:
        raise ValueError(f"--freeze expects one of {', '.join(FREEZE)}; got {what!r}.")
    if what == "none":
        return sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    if HEAD not in [layer.name for layer in model.layers]:
        raise ValueError(f"--freeze backbone needs a classifier head named {HEAD!r}; {model.name} has none.")
    compile_config = model.get_compile_config()
    for layer in model.layers:
        layer.trainable = layer.name == HEAD
    model.compile_from_config(compile_config)  # trainability is read when the training step is built
    return sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)


def _shapes(layer):
    return [tuple(weight.shape) for weight in layer.weights]


def _describe(shapes):
    return ", ".join(str(shape) for shape in shapes)


def frozen(model):
    """``"backbone"`` when some layer but the ``"predictions"`` head is frozen, else ``"none"``."""
    layers = getattr(model, "layers", [])
    if HEAD not in [layer.name for layer in layers]:
        return "none"
    return "backbone" if any(not layer.trainable for layer in layers if layer.weights and layer.name != HEAD) \
        else "none"


def unfreeze(model):
    """Make every layer trainable again (the second stage of fine-tuning); recompiles ``model``.

    The optimizer is made afresh from the compiled configuration: its state
    (Adam's moments of the head) starts again, as the set of variables it
    updates changes.

    Returns:
        The number of weights now trainable.
    """
    compile_config = model.get_compile_config()
    for layer in model.layers:
        layer.trainable = True
    model.compile_from_config(compile_config)
    return sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)


def stages(epochs_done, epochs, unfreeze_after):
    """The ``(first, stop)`` epoch ranges to fit, split where the backbone is unfrozen.

    Example:

    >>> stages(0, 10, 3)
    [(0, 3), (3, 10)]
    >>> stages(5, 10, 3)
    [(5, 10)]
    """
    if unfreeze_after is None or not epochs_done < unfreeze_after < epochs:
        return [(epochs_done, epochs)]
    return [(epochs_done, unfreeze_after), (unfreeze_after, epochs)]


def optimizer(learning_rate, backbone_lr_scale=1.0):
    """Adam, or ``DiscriminativeAdam`` when the backbone's updates are scaled."""
    if backbone_lr_scale == 1:
        return keras.optimizers.Adam(learning_rate)
    return DiscriminativeAdam(learning_rate, backbone_lr_scale=backbone_lr_scale)


@keras.saving.register_keras_serializable(package="videokit")
class DiscriminativeAdam(keras.optimizers.Adam):
    """Adam whose updates of the backbone are ``backbone_lr_scale`` times those the head gets.

    Every variable of the layer named ``head`` (the classifier's
    ``"predictions"``) takes steps of ``learning_rate``; every other one steps
    of ``backbone_lr_scale * learning_rate``. Scaling the gradients instead
    would do nothing: Adam divides them by their own size. The scale is
    applied in ``update_step``, which Keras calls per variable on TensorFlow,
    JAX and torch (a subclass of Adam takes the generic path on torch).

    Args:
        learning_rate: the head's learning rate.
        backbone_lr_scale: the backbone's learning rate relative to the
            head's; ``0`` keeps the backbone's weights where they are.
        head: the name of the head layer.
        **kwargs: `keras.optimizers.Adam` arguments.

    Example:

    >>> model.compile(DiscriminativeAdam(1e-3, backbone_lr_scale=0.1), "sparse_categorical_crossentropy")  # doctest: +SKIP
    """

    def __init__(self, learning_rate=0.001, backbone_lr_scale=1.0, head=HEAD, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if backbone_lr_scale < 0:
            raise ValueError(f"DiscriminativeAdam expects backbone_lr_scale >= 0; got {backbone_lr_scale!r}.")
        self.backbone_lr_scale, self.head = float(backbone_lr_scale), head
        self._lr_scales = []

    def build(self, variables):
        if not self.built:
            self._lr_scales = [1.0 if self.head in variable.path.split("/")[:-1] else self.backbone_lr_scale
                               for variable in variables]  # paths: "predictions/kernel", "sequential/predictions/bias"
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        scale = self._lr_scales[self._get_variable_index(variable)]
        super().update_step(gradient, variable, learning_rate * scale)

    def get_config(self):
        return {**super().get_config(), "backbone_lr_scale": self.backbone_lr_scale, "head": self.head}
