"""Helpers for the masters' tests, the same in a student's kernel and in the grader's phase 2.

A test of a model question gets a real ``keras.Model`` when it runs in a
kernel (``grader.check``, or the grader recording the master's calls), and an
`ExportedModel` in phase 2, which holds only what the sandbox exported: the
model's config, its weights and its outputs on the test's inputs. These
helpers answer the same for both. Imports nothing at import time.
"""


class ModelAnswer:
    """Base of the stand-ins for models: the grader's `ExportedModel` and its recording proxy."""


def is_model(value):
    """Whether `value` is a Keras model (or the grader's stand-in for one)."""
    import sys

    keras = sys.modules.get("keras")
    return isinstance(value, ModelAnswer) or (keras is not None and isinstance(value, keras.Model))


def class_name(layer):
    """The class name of a layer: ``"Conv2Plus1D"``, ``"GRU"``."""
    return layer.class_name if isinstance(layer, ExportedLayer) else type(layer).__name__


def all_layers(model):
    """Every layer of `model`, nested ones included, depth first."""
    for layer in model.layers:
        yield layer
        yield from all_layers(layer) if getattr(layer, "layers", None) else ()


class ExportedLayer:
    """A layer as exported by the sandbox: its name, class name, plain config and inner layers."""

    def __init__(self, summary):
        summary = summary if isinstance(summary, dict) else {}
        self.name = summary.get("name") if isinstance(summary.get("name"), str) else ""
        self.class_name = summary.get("class_name") if isinstance(summary.get("class_name"), str) else ""
        self.config = summary.get("config") if isinstance(summary.get("config"), dict) else {}
        layers = summary.get("layers")
        self.layers = [ExportedLayer(item) for item in layers] if isinstance(layers, list) else []

    def __getattr__(self, name):
        config = self.__dict__.get("config", {})
        if name in config:
            return config[name]
        raise AttributeError(f"the exported layer {self.__dict__.get('name')!r} has no {name!r}")

    def get_layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}")

    def __repr__(self):
        return f"<exported {self.class_name} layer {self.name!r}>"


class ExportedModel(ModelAnswer, ExportedLayer):
    """A student's model in phase 2: config, weights and replayed outputs, never the model's code.

    ``count_params`` counts the exported weights; ``predict`` and calling the
    model return the outputs the sandbox computed on the same inputs, in the
    order the test asks for them (see ``checker.Replay``).
    """

    def __init__(self, summary, weights, replays):
        super().__init__(summary)
        self.input_shape = _shape(summary.get("input_shape"))
        self.output_shape = _shape(summary.get("output_shape"))
        self.weights = list(weights)
        self._replays = replays

    def count_params(self):
        import numpy as np

        return int(sum(np.asarray(weight).size for weight in self.weights))

    def get_weights(self):
        return list(self.weights)

    def predict(self, *args, **kwargs):
        return self._replays["predict"](*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._replays["__call__"](*args, **kwargs)


def _shape(value):
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_shape(item) for item in value)
    return value
