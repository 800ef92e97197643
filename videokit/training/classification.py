"""Training classifiers: clips in, class probabilities out."""

import json
import pathlib

import keras
import numpy as np

from videokit.training import transfer
from videokit.training.task import Data, Task


class ClassifierTask(Task):
    """Action recognition on labelled synthetic clips or a folder with one sub-folder per class."""

    name = "classifier"
    output_files = ("confusion.png",)

    def load_data(self, batch_size):
        if self.synthetic is None:
            return self._folder_data(batch_size)
        if not self.synthetic.labelled:
            raise ValueError(f"{self.config.model} is a classifier and {self.config.data} has no labels; "
                             "use --data moving_shapes or a folder of videos.")
        videos, labels = self.synthetic_videos(self.config.clip[0])
        split = self.split_point(len(videos))
        class_names = tuple(self.synthetic.class_names)
        validation = videos[split:].astype("float32") / 255.0
        augmentation = self.config.augmentation()
        if augmentation:  # augmented afresh every epoch, in a PyDataset
            from videokit.data.sequence import AugmentedArrays

            train = AugmentedArrays(videos[:split], labels[:split], augmentation, len(class_names),
                                    batch_size=batch_size, seed=self.config.seed)
            return Data(train, validation, class_names, None, labels[split:], train_size=split)
        return Data(videos[:split].astype("float32") / 255.0, validation, class_names, labels[:split], labels[split:])

    def _folder_data(self, batch_size):
        train, validation = self.folders()
        if self.cluster is not None:  # this worker's share of the videos, before any is decoded
            from videokit.cluster import shard_indices

            kept = shard_indices(len(train.samples), self.cluster)
            print(f"worker {self.cluster.worker_index} of {self.cluster.num_workers} trains on videos "
                  f"{self.cluster.worker_index}::{self.cluster.num_workers} of the {len(train.samples)} training "
                  f"videos: {len(kept)} videos")
            train.samples = [train.samples[index] for index in kept]
        return Data(train.batches(batch_size, shuffle=True), validation.batches(batch_size, shuffle=False),
                    tuple(train.class_names), train_size=len(train.samples))

    def folders(self):
        """The training and validation ``VideoFolder`` of a run on a folder of videos."""
        from videokit.data import VideoFolder, official_split

        config = self.config
        frames, height, width = config.clip
        options = dict(num_frames=frames, size=(height, width), augment=config.augmentation(), seed=config.seed,
                       cache_dir=config.cache, skip_bad_videos=config.skip_bad_videos, sampling=config.sampling)
        if config.split_file:
            return official_split(config.data, config.split_file, config.split, **options)
        return VideoFolder(config.data, **options).split(config.validation_fraction)

    def build(self, data):
        build = self.model_entry.build_function()
        model = build(self.input_shape, len(data.class_names), **self.builder_kwargs())
        optimizer = transfer.optimizer(self.config.learning_rate, self.config.backbone_lr_scale)
        if self.config.augmentation().mixes:  # soft labels in training, class numbers in validation
            model.compile(optimizer, SoftOrSparseCrossentropy(), metrics=[SoftOrSparseAccuracy()],
                          jit_compile=self.jit())
        else:
            model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=self.jit())
        return model

    def random_targets(self, model, batch_size, rng):
        return rng.integers(0, model.output_shape[-1], batch_size)

    def draw_results(self, model, data, run_dir):
        import matplotlib.pyplot as plt

        from videokit import viz

        labels, predictions = predict_labels(model, data.validation, data.validation_targets)
        plt.close(viz.plot_confusion_matrix(labels, predictions, data.class_names,
                                            path=pathlib.Path(run_dir) / "confusion.png"))

    def evaluate(self, model, data, output):
        """Accuracy, a per-class report and a confusion matrix on ``data.validation``."""
        labels, predictions = predict_labels(model, data.validation, data.validation_targets)
        return report(labels, predictions, data.class_names, output)

    def evaluate_views(self, model, output, *, clips, crops, average, path, overwrite, progress):
        """``evaluate`` on the validation videos, each scored from ``clips`` x ``crops`` views averaged."""
        from videokit.training.views import evaluate_views

        _, validation = self.folders()
        scores = evaluate_views(model, validation, clips=clips, crops=crops, average=average,
                                batch_size=self.config.batch_size, path=path, overwrite=overwrite, progress=progress)
        labels, predictions = scores.pop("labels"), scores.pop("predictions")
        return {**report(labels, predictions, validation.class_names, output), **scores}

    def predict_video(self, model, clip, path, run_dir, *, top_k, steps, output):
        probabilities = model.predict(clip[None], verbose=0)[0]
        class_names = json.loads((pathlib.Path(run_dir) / "classes.json").read_text())
        best = np.argsort(probabilities)[::-1][:top_k]
        return [(class_names[i], float(probabilities[i])) for i in best]


def report(labels, predictions, class_names, output):
    """Accuracy, per-class precision and recall, and the confusion matrix (drawn to ``output/confusion.png``)."""
    import matplotlib.pyplot as plt

    from videokit import viz

    count = len(class_names)
    confusion = np.zeros((count, count), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = []
    for index, name in enumerate(class_names):
        predicted, support = confusion[:, index].sum(), confusion[index].sum()
        precision = confusion[index, index] / predicted if predicted else 0.0
        recall = confusion[index, index] / support if support else 0.0
        per_class.append({"class": name, "precision": float(precision), "recall": float(recall),
                          "support": int(support)})
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    plt.close(viz.plot_confusion_matrix(labels, predictions, class_names, path=output / "confusion.png"))
    return {"accuracy": float(np.mean(labels == predictions)), "per_class": per_class,
            "confusion": confusion.tolist(), "plot": str(output / "confusion.png")}


def predict_labels(model, inputs, labels=None):
    """True and predicted class numbers for arrays, or a PyDataset or tf.data.Dataset of ``(clips, labels)``."""
    if labels is not None:
        return np.asarray(labels), np.argmax(model.predict(inputs, verbose=0), axis=-1)
    true, predicted = [], []
    for clips, batch_labels in inputs:
        true.append(np.asarray(batch_labels))
        predicted.append(np.argmax(model.predict_on_batch(clips), axis=-1))
    return np.concatenate(true), np.concatenate(predicted)


def _soft(y_true, y_pred):
    """Whether ``y_true`` holds rows of class probabilities (MixUp, CutMix) rather than class numbers."""
    return len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1] != 1


@keras.saving.register_keras_serializable(package="videokit")
class SoftOrSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against class numbers, or against soft one-hot rows (MixUp, CutMix).

    A run with MixUp or CutMix trains on mixed label rows and validates on
    class numbers; this one loss takes both.

    Example:

    >>> loss = SoftOrSparseCrossentropy()
    >>> probabilities = np.array([[0.5, 0.5]], "float32")
    >>> float(loss(np.array([[0.5, 0.5]]), probabilities)) == float(loss(np.array([0]), probabilities))
    True
    """

    def __init__(self, name="soft_or_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        if _soft(y_true, y_pred):
            return keras.losses.categorical_crossentropy(y_true, y_pred)
        return keras.losses.sparse_categorical_crossentropy(keras.ops.reshape(y_true, (-1,)), y_pred)


def soft_or_sparse_accuracy(y_true, y_pred):
    """1 where the most probable class is the label's (a soft row's largest entry), else 0."""
    true = keras.ops.argmax(y_true, axis=-1) if _soft(y_true, y_pred) else keras.ops.reshape(y_true, (-1,))
    return keras.ops.cast(keras.ops.equal(keras.ops.cast(true, "int32"),
                                          keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")), "float32")


@keras.saving.register_keras_serializable(package="videokit")
class SoftOrSparseAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy against class numbers or soft one-hot rows, named ``"accuracy"`` like Keras' own."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=soft_or_sparse_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
