"""Masked-video pretraining: unlabelled clips in, their hidden tubes reconstructed.

``videokit train --model videomae`` trains `videokit.models.VideoMAE` on the
clips of a synthetic dataset or a folder of videos, their labels unused. After
each epoch the run draws ``reconstructions/epoch_NNN.png`` (masked input,
reconstruction and original of a few validation clips, the same masks every
epoch); the encoder of the run's ``best.keras`` is what ``videokit train
--model videomae_classifier --init-from RUN`` fine-tunes.
"""

import pathlib

import keras
import numpy as np

from videokit._files import atomic_path, remove_temporaries
from videokit.training.task import Data, Task

RECONSTRUCTIONS = "reconstructions"  # the folder of one picture per epoch
PREVIEW_CLIPS = 3  # validation clips drawn
MASK_SEED = 0  # the masks of the pictures, the same every epoch


class PretrainingTask(Task):
    """Masked autoencoding of unlabelled clips (tube masking, loss on the hidden tubes)."""

    name = "pretraining"
    output_files = (RECONSTRUCTIONS, "reconstructions.png")

    def __init__(self, config):
        super().__init__(config)
        self.preview = None  # the validation clips the pictures show, set by load_data

    def load_data(self, batch_size):
        if self.synthetic is None:
            data = self._folder_data(batch_size)
            self.preview = _first_clips(data.validation, PREVIEW_CLIPS)
            return data
        videos, _ = self.synthetic_videos(self.config.clip[0])  # the labels are not used
        clips = videos.astype("float32") / 255.0
        split = self.split_point(len(clips))
        self.preview = clips[split:][:PREVIEW_CLIPS]
        return Data(clips[:split], clips[split:])

    def _folder_data(self, batch_size):
        from videokit.training.classification import ClassifierTask

        train, validation = ClassifierTask(self.config).folders()  # the labels of its batches are not used
        return Data(train.batches(batch_size, shuffle=True), validation.batches(batch_size, shuffle=False),
                    train_size=len(train.samples))

    def build(self, data):
        model = self.model_entry.build_function()(self.input_shape, seed=self.config.seed, **self.builder_kwargs())
        # The paper's optimiser: AdamW with beta_2 = 0.95 and weight decay 0.05.
        model.compile(keras.optimizers.AdamW(self.config.learning_rate, beta_2=0.95, weight_decay=0.05),
                      jit_compile=self.jit())
        return model

    def fit(self, model, data, batch_size, **fit_arguments):
        if hasattr(data.train, "shape"):  # clips in memory, no targets: the model makes its own
            return model.fit(data.train, validation_data=data.validation, batch_size=batch_size, shuffle=True,
                             **fit_arguments)
        return model.fit(data.train, validation_data=data.validation, shuffle=False, **fit_arguments)

    def outputs_after_epoch(self):
        return ((RECONSTRUCTIONS, self._save_reconstructions),)

    def _save_reconstructions(self, model, run_dir, state):
        """``reconstructions/epoch_NNN.png`` of the epoch just finished, unless already drawn."""
        folder = pathlib.Path(run_dir) / RECONSTRUCTIONS
        path = folder / f"epoch_{state['epochs_done']:03d}.png"
        if path.exists():
            return
        folder.mkdir(exist_ok=True)
        remove_temporaries(folder, [path.name])  # what a kill while drawing it left
        self._draw(model, path, title=f"epoch {state['epochs_done']}")

    def _draw(self, model, path, title):
        import matplotlib.pyplot as plt

        from videokit import viz

        figure = viz.plot_reconstructions(*model.reconstruct(self.preview, seed=MASK_SEED), title=title)
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=100)
        plt.close(figure)

    def draw_results(self, model, data, run_dir):
        self._draw(model, pathlib.Path(run_dir) / "reconstructions.png", title="best epoch")

    def random_targets(self, model, batch_size, rng):
        raise ValueError("bench times classifiers and next-frame predictors; VideoMAE's speed is in "
                         "benchmarks/bench_transformers.py.")

    def predict_video(self, model, clip, path, run_dir, *, top_k, steps, output):
        raise ValueError(f"{run_dir} holds a pretraining run; fine-tune a classifier from it with "
                         f"videokit train --model videomae_classifier --init-from {run_dir}.")


def _first_clips(loader, count):
    """The first ``count`` clips of a loader of ``(clips, labels)`` batches, as NumPy."""
    batch = next(iter(loader)) if not isinstance(loader, keras.utils.PyDataset) else loader[0]
    return np.asarray(keras.ops.convert_to_numpy(batch[0]))[:count]
