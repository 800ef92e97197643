"""The gradient of a function's summed output with respect to its input, on each Keras backend.

Keras 3 has no backend-neutral gradient call, so the one piece that differs
lives here: `tf.GradientTape`, `jax.grad` or `torch.autograd.grad`, each
imported only on its own backend. The GAN's R1 penalty and Grad-CAM use it.
"""

import keras
from keras import ops


def tensorflow_input_gradient(function, inputs):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = function(inputs)
    return tape.gradient(outputs, inputs)


def jax_input_gradient(function, inputs):
    import jax

    return jax.grad(lambda x: ops.sum(function(x)))(inputs)


def torch_input_gradient(function, inputs):
    import torch

    inputs = inputs.detach().requires_grad_(True)
    outputs = function(inputs)
    return torch.autograd.grad(outputs.sum(), inputs, create_graph=True)[0]  # differentiable again (R1)


_BY_BACKEND = {"tensorflow": tensorflow_input_gradient, "jax": jax_input_gradient, "torch": torch_input_gradient}


def input_gradient(function, inputs):
    """``d sum(function(inputs)) / d inputs`` on the active Keras backend.

    Args:
        function: a callable of backend tensors.
        inputs: a backend tensor.

    Returns:
        A tensor shaped like ``inputs``.
    """
    backend = keras.backend.backend()
    if backend not in _BY_BACKEND:
        raise ValueError(f"videokit takes input gradients on the backends {tuple(_BY_BACKEND)}, got {backend!r}.")
    return _BY_BACKEND[backend](function, inputs)
