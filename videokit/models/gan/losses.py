"""GAN losses from discriminator logits: non-saturating and hinge, and the R1 penalty."""

from keras import ops

LOSS_KINDS = ("non_saturating", "hinge")


def _check_loss_kind(kind):
    if kind not in LOSS_KINDS:
        raise ValueError(f"The loss kind must be one of {LOSS_KINDS}, got {kind!r}.")


def discriminator_loss(real_logits, fake_logits, kind="non_saturating"):
    """Discriminator loss from the logits of real and generated clips.

    With ``D(x) = sigmoid(l(x))`` and logits ``l``:

    * ``"non_saturating"`` (the GAN cross-entropy, Goodfellow et al. 2014):
      ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]``, computed stably from the
      logits as ``E[softplus(-l(x))] + E[softplus(l(G(z)))]``.
    * ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018):
      ``L_D = E[relu(1 - l(x))] + E[relu(1 + l(G(z)))]``.

    Args:
        real_logits: tensor of shape ``(batch, 1)`` or ``(batch,)``, the
            discriminator logits ``l(x)`` of real clips.
        fake_logits: tensor of the same kind, the logits ``l(G(z))`` of
            generated clips.
        kind: ``"non_saturating"`` or ``"hinge"``.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> loss = discriminator_loss(np.zeros((4, 1)), np.zeros((4, 1)))
    >>> round(float(loss), 4)  # 2 log 2: a discriminator that cannot tell.
    1.3863
    """
    _check_loss_kind(kind)
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits, kind="non_saturating"):
    """Generator loss from the discriminator logits of generated clips.

    * ``"non_saturating"``: ``L_G = -E[log D(G(z))] = E[softplus(-l(G(z)))]``.
      The minimax game asks the generator to minimise ``E[log(1 - D(G(z)))]``,
      but early in training the discriminator rejects the fakes confidently,
      ``D(G(z))`` is near 0, and that loss is flat there: its gradient
      vanishes (it *saturates*). Maximising ``log D(G(z))`` instead has the
      same fixed point and strong gradients exactly when the generator is bad.
    * ``"hinge"``: ``L_G = -E[l(G(z))]``.

    Args:
        fake_logits: tensor of shape ``(batch, 1)`` or ``(batch,)``, the
            discriminator logits ``l(G(z))`` of generated clips.
        kind: ``"non_saturating"`` or ``"hinge"``.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> round(float(generator_loss(np.zeros((4, 1)))), 4)  # log 2
    0.6931
    """
    _check_loss_kind(kind)
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "hinge":
        return -ops.mean(fake_logits)
    return ops.mean(ops.softplus(-fake_logits))


def r1_penalty(input_gradients):
    """R1 gradient penalty ``0.5 * E[||grad_x l(x)||^2]`` on real clips.

    Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do
    actually Converge?" (https://arxiv.org/abs/1801.04406). It pushes the
    discriminator to be flat on the real data, which damps the oscillations of
    GAN training. `VideoGAN` adds ``gradient_penalty * r1_penalty(...)`` to the
    discriminator loss.

    Args:
        input_gradients: tensor of shape ``(batch, frames, height, width,
            channels)``, the gradient of the discriminator logits with respect
            to the real clips.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> float(r1_penalty(np.ones((2, 1, 2, 2, 1))))
    2.0
    """
    gradients = ops.cast(input_gradients, "float32")
    squared_norms = ops.sum(
        ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)), axis=1
    )
    return 0.5 * ops.mean(squared_norms)
