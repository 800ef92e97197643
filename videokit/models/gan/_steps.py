"""Backend-specific halves of `VideoGAN.train_step`: gradients and state only.

The losses and the R1 penalty live in `videokit.models.gan.losses`, the two
objectives in `VideoGAN` (`videokit.models.gan.trainer`); all use `keras.ops`.
What differs per backend is how a gradient is taken and how state moves:

* TensorFlow: `tf.GradientTape`, optimizers update variables in place.
* JAX: `train_step(state, data)` is jitted and must be pure. The objectives
  run inside a `keras.StatelessScope` that maps every model variable to a
  value from ``state``; `jax.value_and_grad` differentiates with respect to
  the values of one network; `optimizer.stateless_apply` returns new weights
  and optimizer variables; everything goes back out as the new ``state``.
* PyTorch: `loss.backward()` and `optimizer.apply` under `torch.no_grad()`.

The backend libraries are imported inside the functions that need them.
"""

import keras
from keras import ops

from videokit import _gradients


def train_step(gan, *args):
    """Run one discriminator step and one generator step on ``gan``'s backend."""
    steps = {
        "tensorflow": _tensorflow_train_step,
        "jax": _jax_train_step,
        "torch": _torch_train_step,
    }
    backend = keras.backend.backend()
    if backend not in steps:
        raise ValueError(f"VideoGAN trains on the backends {tuple(steps)}, got {backend!r}.")
    return steps[backend](gan, *args)


def _real_videos(data):
    videos, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    dtype = keras.backend.standardize_dtype(videos.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(
            "VideoGAN.fit expects float clips scaled to [-1, 1] (e.g. `videos / 127.5 - 1`), "
            f"got dtype {dtype}."
        )
    return ops.cast(videos, "float32")


def _metric_values(d_loss, g_loss, real_logits, fake_logits):
    return {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": ops.mean(ops.cast(real_logits, "float32")),
        "d_fake": ops.mean(ops.cast(fake_logits, "float32")),
    }


def _update_metrics(gan, values):
    for metric in gan.metrics:
        metric.update_state(values[metric.name])
    return {metric.name: metric.result() for metric in gan.metrics}


# -------------------------------------------------------------- TensorFlow


def _tensorflow_train_step(gan, data):
    import tensorflow as tf

    real = _real_videos(data)
    with tf.GradientTape() as tape:
        d_loss, (real_logits, fake_logits) = gan._discriminator_objective(
            real, _gradients.tensorflow_input_gradient
        )
    gan.d_optimizer.apply(
        tape.gradient(d_loss, gan.discriminator.trainable_variables),
        gan.discriminator.trainable_variables,
    )
    with tf.GradientTape() as tape:
        g_loss, _ = gan._generator_objective(ops.shape(real)[0])
    gan.g_optimizer.apply(
        tape.gradient(g_loss, gan.generator.trainable_variables), gan.generator.trainable_variables
    )
    return _update_metrics(gan, _metric_values(d_loss, g_loss, real_logits, fake_logits))


# --------------------------------------------------------------------- JAX


def _jax_train_step(gan, state, data):
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    real = _real_videos(data)
    split = len(gan.d_optimizer.variables)
    d_optimizer_variables, g_optimizer_variables = (
        optimizer_variables[:split],
        optimizer_variables[split:],
    )

    (d_loss, (real_logits, fake_logits)), trainable, non_trainable, d_optimizer_variables = (
        _jax_update(
            gan,
            gan.discriminator,
            gan.d_optimizer,
            d_optimizer_variables,
            trainable,
            non_trainable,
            gan._discriminator_objective,
            real,
            _gradients.jax_input_gradient,
        )
    )
    (g_loss, _), trainable, non_trainable, g_optimizer_variables = _jax_update(
        gan,
        gan.generator,
        gan.g_optimizer,
        g_optimizer_variables,
        trainable,
        non_trainable,
        gan._generator_objective,
        real.shape[0],
    )
    values = _metric_values(d_loss, g_loss, real_logits, fake_logits)
    logs, metrics_variables = _jax_update_metrics(gan, metrics_variables, values)
    state = (
        trainable,
        non_trainable,
        d_optimizer_variables + g_optimizer_variables,
        metrics_variables,
    )
    return logs, state


def _jax_update(
    gan, network, optimizer, optimizer_variables, trainable, non_trainable, objective, *args
):
    """One optimizer step on ``network``'s weights for ``objective(*args) -> (loss, aux)``.

    Returns ``((loss, aux), trainable, non_trainable, optimizer_variables)``,
    all new values; ``trainable`` and ``non_trainable`` cover the whole GAN.
    """
    import jax

    positions = _positions(gan.trainable_variables, network.trainable_variables)

    def loss_fn(network_values, non_trainable):
        values = _replace(trainable, positions, network_values)
        (loss, aux), non_trainable = _jax_stateless(gan, values, non_trainable, objective, *args)
        return loss, (aux, non_trainable)

    network_values = [trainable[i] for i in positions]
    (loss, (aux, non_trainable)), gradients = jax.value_and_grad(loss_fn, has_aux=True)(
        network_values, non_trainable
    )
    network_values, optimizer_variables = optimizer.stateless_apply(
        optimizer_variables, gradients, network_values
    )
    return (
        (loss, aux),
        _replace(trainable, positions, network_values),
        non_trainable,
        optimizer_variables,
    )


def _jax_stateless(gan, trainable, non_trainable, function, *args):
    """``function(*args)`` with the GAN's variables read from (and written to) values."""
    mapping = list(zip(gan.trainable_variables, trainable)) + list(
        zip(gan.non_trainable_variables, non_trainable)
    )
    with keras.StatelessScope(state_mapping=mapping) as scope:
        outputs = function(*args)
    return outputs, [scope.get_current_value(v) for v in gan.non_trainable_variables]


def _jax_update_metrics(gan, metrics_variables, values):
    logs, new_variables = {}, []
    for metric in gan.metrics:
        own = metrics_variables[len(new_variables) : len(new_variables) + len(metric.variables)]
        own = metric.stateless_update_state(own, values[metric.name])
        logs[metric.name] = metric.stateless_result(own)
        new_variables += own
    return logs, new_variables


def _positions(all_variables, subset):
    index = {id(v): i for i, v in enumerate(all_variables)}
    return [index[id(v)] for v in subset]


def _replace(values, positions, new_values):
    values = list(values)
    for i, value in zip(positions, new_values):
        values[i] = value
    return values


# ----------------------------------------------------------------- PyTorch


def _torch_train_step(gan, data):
    real = _real_videos(data)
    gan.zero_grad()
    d_loss, (real_logits, fake_logits) = gan._discriminator_objective(real, _gradients.torch_input_gradient)
    d_loss.backward()
    _torch_apply(gan.d_optimizer, gan.discriminator)
    gan.zero_grad()
    g_loss, _ = gan._generator_objective(real.shape[0])
    g_loss.backward()
    _torch_apply(gan.g_optimizer, gan.generator)
    values = _metric_values(
        d_loss.detach(), g_loss.detach(), real_logits.detach(), fake_logits.detach()
    )
    return _update_metrics(gan, values)


def _torch_apply(optimizer, network):
    import torch

    variables = network.trainable_variables
    gradients = [v.value.grad for v in variables]
    with torch.no_grad():
        optimizer.apply(gradients, variables)
