"""Training next-frame predictors: frames 0..T-1 in, frames 1..T out."""

import pathlib

import keras
import numpy as np

from videokit.training.task import Data, Task, even_frames


class PredictorTask(Task):
    """Next-frame prediction on synthetic clips (each clip is its own target, one frame later)."""

    name = "predictor"
    output_files = ("predictions.png", "predictions.mp4")

    def load_data(self, batch_size):
        if self.synthetic is None:
            raise ValueError(f"{self.config.model} trains on synthetic data only for now; use --data moving_digits.")
        videos, _ = self.synthetic_videos(self.config.clip[0] + 1)
        clips = videos.astype("float32") / 255.0
        split = self.split_point(len(clips))
        return Data(clips[:split, :-1], clips[split:, :-1], (), clips[:split, 1:], clips[split:, 1:])

    def build(self, data):
        model = self.model_entry.build_function()(self.input_shape, **self.builder_kwargs())
        model.compile(keras.optimizers.Adam(self.config.learning_rate), "binary_crossentropy", metrics=["mse"],
                      jit_compile=self.jit())
        return model

    def draw_results(self, model, data, run_dir):
        import matplotlib.pyplot as plt

        from videokit import io, viz

        run_dir = pathlib.Path(run_dir)
        clips, targets = data.validation[:2], data.validation_targets[:2]
        predicted = model.predict(clips, verbose=0)
        rows = [clip for pair in zip(targets, predicted) for clip in pair]
        titles = [title for _ in range(len(clips)) for title in ("true", "predicted")]
        plt.close(viz.frame_grid(np.clip(rows, 0, 1), titles=titles, path=run_dir / "predictions.png"))
        side_by_side = np.concatenate([targets[0], np.clip(predicted[0], 0, 1)], axis=2)
        io.write_video(run_dir / "predictions.mp4", even_frames(side_by_side), fps=4, overwrite=True)

    def predict_video(self, model, clip, path, run_dir, *, top_k, steps, output):
        from videokit import io
        from videokit.models.convlstm import rollout

        forecast = rollout(model, clip[None], steps)[0]
        folder = pathlib.Path(output or pathlib.Path(path).parent)
        target = folder / f"{pathlib.Path(path).stem}.predicted.mp4"
        return io.write_video(target, even_frames(np.clip(forecast, 0, 1)), fps=4)
