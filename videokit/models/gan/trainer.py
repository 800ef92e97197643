"""`VideoGAN`: a generator and a discriminator trained against each other by `fit()`.

The backend-neutral objectives live here; the gradient and state handling of
each backend lives in `videokit.models.gan._steps`.
"""

import keras
import numpy as np
from keras import ops

from videokit.models.gan import _steps
from videokit.models.gan.losses import _check_loss_kind, discriminator_loss, generator_loss, r1_penalty


def video_of(generator_outputs):
    """The clip in a generator's output: its ``"video"`` entry, or the tensor itself.

    Args:
        generator_outputs: a dict with a ``"video"`` key (as returned by
            `vgan_generator` and `mocogan_generator`) or a video tensor.

    Returns:
        The video tensor ``(batch, T, H, W, C)``.

    Example:

    >>> video_of({"video": 1, "mask": 2})
    1
    """
    if isinstance(generator_outputs, dict):
        return generator_outputs["video"]
    return generator_outputs


class _OptimizerPair:
    """The two optimizers of a GAN seen as one by Keras's `fit()` machinery.

    `fit()` builds ``model.optimizer`` and, on JAX, carries
    ``model.optimizer.variables`` through the jitted train step;
    `keras.callbacks.LearningRateScheduler` visits ``.optimizers``.
    """

    def __init__(self, discriminator_optimizer, generator_optimizer):
        self.optimizers = [discriminator_optimizer, generator_optimizer]

    @property
    def built(self):
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, variables):
        raise RuntimeError("VideoGAN builds its optimizers itself; call `VideoGAN.compile()`.")

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]


@keras.saving.register_keras_serializable(package="videokit")
class VideoGAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit()`.

    Each `fit()` batch of real clips ``x`` (in ``[-1, 1]``) makes two steps:

    1. discriminator: with fresh noise ``z``, minimise
       ``discriminator_loss(D(x), D(G(z)), loss)`` (plus
       ``gradient_penalty * r1_penalty(grad_x D(x))`` if set) over D's weights;
    2. generator: with new noise, minimise ``generator_loss(D(G(z)), loss)``
       over G's weights, against the just-updated discriminator.

    See `discriminator_loss`, `generator_loss` and `r1_penalty` for the math.
    The logs are ``d_loss``, ``g_loss``, and ``d_real`` / ``d_fake``, the mean
    discriminator logits of real and generated clips. Training runs on the
    TensorFlow, JAX (stateless, jitted) and PyTorch backends; only the
    gradient and state handling differs (`videokit.models.gan._steps`).

    The generator takes noise shaped like its inputs (one tensor, or a dict
    such as `mocogan_generator`'s) and returns a video or a dict with a
    ``"video"`` entry. Calling the `VideoGAN` on latents returns the video.

    Under mixed precision use ``"mixed_bfloat16"``: `VideoGAN` does no loss
    scaling, which ``"mixed_float16"`` would need. On a CPU, prefer the
    TensorFlow (or PyTorch) backend: XLA's CPU kernels for 3D transposed
    convolutions, and for the input gradients of strided 3D convolutions,
    are tens of times slower, so JAX trains the small presets at about 1 clip
    per second there (on a GPU all backends are fast).

    Args:
        generator: a `keras.Model` from noise to videos in ``[-1, 1]``, e.g.
            `vgan_generator` or `mocogan_generator`.
        discriminator: a `keras.Model` from videos to one logit per clip,
            e.g. `video_discriminator`; no batch norm if you use a penalty.
        seed: int or None, seeds the noise drawn during training.
        **kwargs: standard `keras.Model` arguments (``name``).

    Call arguments:
        latents: noise shaped like ``generator.input``.
        training: bool, passed to the generator.

    Returns:
        The generated videos ``(batch, T, H, W, C)`` in ``[-1, 1]``.

    Example:

    >>> from videokit.data import moving_shapes
    >>> videos, _, _ = moving_shapes(8, num_frames=8, size=32)
    >>> gan = VideoGAN(vgan_generator(preset="small"), video_discriminator(preset="small"), seed=0)
    >>> gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> history = gan.fit(videos / 127.5 - 1.0, batch_size=4, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> gan.generate(2, seed=1).shape
    (2, 8, 32, 32, 3)
    """

    def __init__(self, generator, discriminator, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        video_shape = tuple(video_of(generator.output).shape[1:])
        critic_shape = tuple(discriminator.input.shape[1:])
        if video_shape != critic_shape:
            raise ValueError(
                f"The discriminator must take the generator's videos {video_shape}, "
                f"but its input shape is {critic_shape}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.loss_kind = "non_saturating"
        self.gradient_penalty = 0.0
        self.mask_penalty = 0.0
        self.built = True

    @property
    def latent_shape(self):
        """Shape of one noise sample: a tuple, or a dict of tuples for dict inputs."""
        return keras.tree.map_structure(lambda t: tuple(t.shape[1:]), self.generator.input)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def compile(
        self,
        d_optimizer,
        g_optimizer,
        loss="non_saturating",
        gradient_penalty=0.0,
        mask_penalty=0.0,
        **kwargs,
    ):
        """Configure the two optimizers and the adversarial loss.

        Args:
            d_optimizer: a `keras.optimizers.Optimizer` for the discriminator.
            g_optimizer: a `keras.optimizers.Optimizer` for the generator (a
                different instance).
            loss: ``"non_saturating"`` or ``"hinge"``.
            gradient_penalty: float >= 0, the weight ``gamma`` of the R1
                penalty on real clips (0 turns it off; 1 to 10 is usual).
            mask_penalty: float >= 0, the weight ``lambda`` of VGAN's sparsity
                prior ``lambda * mean(|m|)`` on the generator's ``"mask"``
                output, added to the generator loss: it pushes the mask to 0
                wherever the static background can draw the clip (0 turns it
                off; needs a generator with a ``"mask"`` output).
            **kwargs: other `keras.Model.compile` arguments (``run_eagerly``,
                ``jit_compile``, ``steps_per_execution``).
        """
        _check_loss_kind(loss)
        if gradient_penalty < 0:
            raise ValueError(f"`gradient_penalty` must be >= 0, got {gradient_penalty!r}.")
        if mask_penalty < 0:
            raise ValueError(f"`mask_penalty` must be >= 0, got {mask_penalty!r}.")
        if mask_penalty > 0 and not self.generator_draws_mask:
            raise ValueError(
                "`mask_penalty` needs a generator with a 'mask' output (like `vgan_generator`); "
                f"{self.generator.name!r} outputs {self._output_names()}."
            )
        if d_optimizer is g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two optimizer instances, got the same one."
            )
        super().compile(optimizer=None, **kwargs)
        for optimizer, network in (
            (d_optimizer, self.discriminator),
            (g_optimizer, self.generator),
        ):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.optimizer = _OptimizerPair(d_optimizer, g_optimizer)
        self.loss_kind = loss
        self.gradient_penalty = float(gradient_penalty)
        self.mask_penalty = float(mask_penalty)

    @property
    def generator_draws_mask(self):
        """Whether the generator returns a ``"mask"`` (a VGAN-style two-stream generator)."""
        return isinstance(self.generator.output, dict) and "mask" in self.generator.output

    def _output_names(self):
        output = self.generator.output
        return sorted(output) if isinstance(output, dict) else "one video tensor"

    def get_compile_config(self):
        # The two optimizers are not serialized: a reloaded VideoGAN is
        # recompiled by hand.
        return None

    def call(self, latents, training=False):
        return video_of(self.generator(latents, training=training))

    def sample_latents(self, batch_size, seed=None):
        """Standard normal noise for ``batch_size`` clips, shaped like ``generator.input``.

        Args:
            batch_size: int (or scalar tensor), the number of clips.
            seed: None (draw from the GAN's seed generator) or an int.

        Returns:
            A tensor ``(batch_size, *latent_shape)``, or a dict of them.
        """
        if seed is None:
            seed = self.seed_generator
        elif isinstance(seed, int):  # one generator, so that each input of a dict gets its own noise
            seed = keras.random.SeedGenerator(seed)
        return keras.tree.map_structure(
            lambda t: keras.random.normal((batch_size, *t.shape[1:]), seed=seed),
            self.generator.input,
        )

    def generate(self, n, seed=None, as_uint8=False):
        """Generate ``n`` clips ready to display.

        Args:
            n: int, the number of clips.
            seed: None or an int; the same int gives the same clips.
            as_uint8: bool; return ``uint8`` in ``[0, 255]`` instead of float
                in ``[0, 1]``.

        Returns:
            A NumPy array ``(n, T, H, W, C)``.
        """
        videos = ops.convert_to_numpy(self(self.sample_latents(n, seed=seed), training=False))
        videos = np.clip((videos.astype("float32") + 1.0) / 2.0, 0.0, 1.0)
        return np.round(videos * 255).astype("uint8") if as_uint8 else videos

    def train_step(self, *args):
        # TensorFlow and PyTorch call train_step(data); JAX calls
        # train_step(state, data) and expects (logs, new_state) back.
        return _steps.train_step(self, *args)

    # The two objectives, shared by all backends. They call the networks
    # statefully and draw their own noise; `_steps` wraps them in a
    # gradient tape, `loss.backward()` or a JAX stateless scope.

    def _discriminator_objective(self, real, input_gradient):
        """``(d_loss, (real_logits, fake_logits))`` on a batch of real clips."""
        latents = self.sample_latents(ops.shape(real)[0])
        fake = ops.stop_gradient(video_of(self.generator(latents, training=True)))
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        loss = discriminator_loss(real_logits, fake_logits, self.loss_kind)
        if self.gradient_penalty > 0:
            gradients = input_gradient(lambda x: self.discriminator(x, training=True), real)
            loss = loss + self.gradient_penalty * r1_penalty(gradients)
        return loss, (real_logits, fake_logits)

    def _generator_objective(self, batch_size):
        """``(g_loss, fake_logits)`` for ``batch_size`` fresh clips."""
        outputs = self.generator(self.sample_latents(batch_size), training=True)
        fake_logits = self.discriminator(video_of(outputs), training=True)
        loss = generator_loss(fake_logits, self.loss_kind)
        if self.mask_penalty > 0:
            loss = loss + self.mask_penalty * ops.mean(ops.abs(outputs["mask"]))
        return loss, fake_logits

    def get_config(self):
        return {
            "name": self.name,
            "seed": self.seed,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)
