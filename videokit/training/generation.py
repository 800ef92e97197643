"""Training video GANs: noise in, clips out."""

import pathlib

import keras
import numpy as np

from videokit.training import checkpoints
from videokit.training.task import Data, Task, even_frames

GENERATOR = "generator.keras"


class GeneratorTask(Task):
    """A generator and a video discriminator trained adversarially on synthetic clips."""

    name = "generator"
    monitor = "g_loss"
    checkpoint = "last.weights.h5"  # both networks and both optimizers
    keeps_best = False  # a GAN's losses do not say which epoch is best
    output_files = (GENERATOR, "samples.png", "samples.mp4")

    def load_data(self, batch_size):
        if self.synthetic is None:
            raise ValueError(f"{self.config.model} trains on synthetic data only for now; use --data moving_digits.")
        videos, _ = self.synthetic_videos(self.config.clip[0])
        return Data(videos.astype("float32") / 127.5 - 1.0, None)

    def build(self, data):
        from videokit.models import VideoGAN, video_discriminator

        shape, learning_rate = self.input_shape, self.config.learning_rate
        generator = self.model_entry.build_function()(output_shape=shape, **self.builder_kwargs())
        gan = VideoGAN(generator, video_discriminator(shape, **self.builder_kwargs()), seed=self.config.seed)
        gan.compile(keras.optimizers.Adam(learning_rate, beta_1=0.5), keras.optimizers.Adam(learning_rate, beta_1=0.5),
                    jit_compile=self.jit())
        return gan

    def save_checkpoint(self, model, path):
        model.save_weights(path)

    def restore(self, run_dir, data):
        from videokit.training import run_dir as runs

        model = self.build(data)
        return runs.load_checkpoint(pathlib.Path(run_dir) / self.checkpoint, lambda path: _load_weights(model, path))

    def optimizer_steps(self, model):
        return int(keras.ops.convert_to_numpy(model.g_optimizer.iterations))

    def outputs_after_epoch(self):
        return (("generator", _save_generator),)

    def trained_model(self, run_dir):
        from videokit.training import run_dir as runs

        return runs.load_checkpoint(pathlib.Path(run_dir) / GENERATOR, keras.models.load_model)

    def draw_results(self, generator, data, run_dir):
        import matplotlib.pyplot as plt

        from videokit import io, viz
        from videokit.models.gan import video_of

        run_dir = pathlib.Path(run_dir)
        latents = keras.random.normal((4, *generator.input_shape[1:]), seed=self.config.seed)
        videos = np.clip((np.asarray(video_of(generator.predict(latents, verbose=0))) + 1) / 2, 0, 1)
        plt.close(viz.frame_grid(videos, path=run_dir / "samples.png"))
        io.write_video(run_dir / "samples.mp4", even_frames(np.concatenate(list(videos), axis=2)), fps=4,
                       overwrite=True)

    def random_targets(self, model, batch_size, rng):
        raise ValueError("bench times classifiers and next-frame predictors; GAN speed is in benchmarks/bench_gan.py.")

    def predict_video(self, model, clip, path, run_dir, *, top_k, steps, output):
        raise ValueError(f"{run_dir} holds a generator; use videokit.models.VideoGAN.generate to sample it.")


def _load_weights(model, path):
    model.load_weights(path)
    return model


def _save_generator(gan, run_dir, state):
    """``generator.keras``, the generator of the last finished epoch, saved once per epoch."""
    path = pathlib.Path(run_dir) / GENERATOR
    if path.exists():
        try:
            if checkpoints.checkpoint_state(path)["epochs_done"] == state["epochs_done"]:
                return
        except ValueError:
            pass  # damaged: written again below
    checkpoints.save_checkpoint(gan.generator.save, path, state)
