"""Video GAN training on CPU: the small VGAN and MoCoGAN presets on moving shapes.

Trains each generator's ``preset="small"`` (8 frames of 32x32) against
``video_discriminator(preset="small")`` with `VideoGAN.fit` for a few epochs
and prints, per epoch, the discriminator and generator losses, the mean
logits of real and generated clips, and the training speed in clips per
second (epoch 1 includes tracing and compiling the train step). Runs on the
current Keras backend (``KERAS_BACKEND``).

Usage:
    KERAS_BACKEND=jax python benchmarks/bench_gan.py [--clips 64] [--epochs 3] [--loss hinge]
"""

import argparse
import time

import keras

from videokit.data import moving_shapes
from videokit.models.gan import VideoGAN, mocogan_generator, vgan_generator, video_discriminator

GENERATORS = {"vgan": vgan_generator, "mocogan": mocogan_generator}


class EpochSpeed(keras.callbacks.Callback):
    """Print each epoch's logs and clips per second."""

    def __init__(self, clips):
        super().__init__()
        self.clips = clips

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        speed = self.clips / (time.perf_counter() - self.started)
        values = "  ".join(
            f"{name} {logs[name]:7.4f}" for name in ("d_loss", "g_loss", "d_real", "d_fake")
        )
        print(f"  epoch {epoch + 1}  {values}  {speed:6.1f} clips/s", flush=True)


def train(name, videos, arguments):
    keras.utils.set_random_seed(0)
    generator = GENERATORS[name](preset="small")
    gan = VideoGAN(generator, video_discriminator(preset="small"), seed=0)
    gan.compile(
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss=arguments.loss,
        gradient_penalty=arguments.gradient_penalty,
    )
    print(
        f"{name}: generator {generator.count_params():,} weights, "
        f"discriminator {gan.discriminator.count_params():,} weights",
        flush=True,
    )
    gan.fit(
        videos,
        batch_size=arguments.batch_size,
        epochs=arguments.epochs,
        verbose=0,
        callbacks=[EpochSpeed(len(videos))],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--loss", choices=("non_saturating", "hinge"), default="non_saturating")
    parser.add_argument("--gradient-penalty", type=float, default=0.0)
    arguments = parser.parse_args()
    videos, _, _ = moving_shapes(arguments.clips, num_frames=8, size=32, seed=0)
    videos = videos.astype("float32") / 127.5 - 1.0
    print(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
        f"{arguments.clips} moving-shapes clips of 8x32x32, batches of {arguments.batch_size}, "
        f"{arguments.loss} loss, "
        f"R1 weight {arguments.gradient_penalty}"
    )
    for name in GENERATORS:
        train(name, videos, arguments)


if __name__ == "__main__":
    main()
