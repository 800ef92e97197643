"""The ``videokit`` command line (also ``python -m videokit``)."""

import argparse
import errno
import importlib.metadata
import json
import os
import pathlib
import sys
import time

# TensorFlow's C++ logging: 3 keeps its start-up lines (CPU features, a missing CUDA driver) off the terminal.
_QUIET_TENSORFLOW = "3"


def main(argv=None):
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    if not arguments.backend_logs and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # the user's own setting wins
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = _QUIET_TENSORFLOW
        if arguments.command in _KERAS_COMMANDS:
            from videokit import tf_support

            tf_support.start_quietly()
    try:
        return arguments.run(arguments) or 0
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"videokit {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"videokit {arguments.command}: error: {_disk_full(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"videokit {arguments.command}: interrupted; a training run goes on with --resume.", file=sys.stderr)
        return 130


_KERAS_COMMANDS = ("train", "evaluate", "predict", "explain", "export", "import-weights", "bench")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, except for switches and options whose help already says it."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


class _SubParser(argparse.ArgumentParser):
    """A sub-command's parser, with the same help layout as the main one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _version():
    """videokit's version, with the versions of what it runs on, for bug reports."""
    from videokit import __version__

    found = []
    for package in ("keras", "tensorflow", "jax", "torch", "av"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return f"videokit {__version__} (Python {sys.version.split()[0]}, {', '.join(found)}; backend {backend})"


def _parser():
    parser = argparse.ArgumentParser(prog="videokit", description="Video deep learning with Keras 3.",
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--verbose", dest="backend_logs", action="store_true",
                        help="show TensorFlow's own start-up and C++ log lines (hidden by default)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubParser)

    _add_models(commands)
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_explain(commands)
    _add_export(commands)
    _add_import_weights(commands)
    _add_bench(commands)
    _add_grade(commands)

    demo = commands.add_parser("demo", help="write synthetic clips as real videos, decode them, draw a frame grid")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("videokit-demo"), help="output folder")
    demo.add_argument("--clips", type=int, default=8, help="number of clips (8 shows one per motion class)")
    demo.add_argument("--overwrite", action="store_true", help="replace files from an earlier demo")
    demo.add_argument("--folders", action="store_true",
                      help="write OUT/<class>/<class>_NN.mp4, one sub-folder per class: a dataset videokit train "
                           "--data takes (the frame grid shows the first 8 clips)")
    demo.set_defaults(run=_demo)

    info = commands.add_parser("info", help="print what probe() finds in video files")
    info.add_argument("videos", nargs="+", type=pathlib.Path, help="video files")
    info.set_defaults(run=_info)
    return parser


def _disk_full(error):
    """One line for a write that ran out of space: the file and the space left."""
    if error.filename is None:  # already worded by videokit._files.atomic_path
        return str(error)
    import shutil

    folder = pathlib.Path(error.filename).parent
    free = shutil.disk_usage(folder).free if folder.exists() else 0
    return f"cannot write {error.filename}: the disk is full ({free / 2**20:.0f} MiB free in {folder})"


def _add_models(commands):
    models = commands.add_parser("models", help="list the models videokit can build and train, with their presets")
    models.add_argument("--task", default=None, help="only models of this task (classifier, predictor, generator)")
    models.set_defaults(run=_models)


def _models(arguments):
    from videokit import registry

    names = registry.list_models(arguments.task)
    if not names:
        raise ValueError(f"no models for task {arguments.task!r}; tasks are {', '.join(registry.TASKS)}.")
    presets = {name: ", ".join(registry.get_model(name).presets) for name in names}
    width = max(13, *map(len, presets.values()))
    print(f"{'model':<20} {'task':<11} {'presets':<{width}} description")
    for name in names:
        entry = registry.get_model(name)
        print(f"{name:<20} {entry.task:<11} {presets[name]:<{width}} {entry.description}")
    return 0


def _add_train(commands):
    from videokit.config import MODEL_NAMES, PRECISIONS, SAMPLINGS

    train = commands.add_parser("train", help="train a video model into a run directory")
    train.add_argument("--model", default="cnn_lstm", metavar="NAME",
                       help=f"one of {', '.join(MODEL_NAMES)}")
    train.add_argument("--data", default="moving_shapes",
                       help="moving_shapes, moving_digits or a folder with one sub-folder of videos per class")
    train.add_argument("--split-file", default=None, metavar="PATH",
                       help="UCF101's ucfTrainTestlist folder (or a trainlistNN.txt) or HMDB51's split folder: "
                            "train on the official training set and validate on its test set "
                            "(default: hold out the last 20%% of each class)")
    train.add_argument("--split", type=int, default=1, choices=(1, 2, 3), help="official split number")
    train.add_argument("--cache", default=None, metavar="DIR",
                       help="decode each video once into DIR (uint8 frames at the clip size) and cut every "
                            "later clip from there; the first run fills it, later epochs and runs skip decoding")
    train.add_argument("--skip-bad-videos", action="store_true",
                       help="leave out videos that cannot be read (listed once) instead of stopping at the first")
    train.add_argument("--sampling", default="dense", choices=SAMPLINGS,
                       help="frames of a folder's videos that make a clip: dense (consecutive frames from a random "
                            "start; the centred clip for validation), segment (TSN: one frame from each of FRAMES "
                            "equal segments) or uniform (spread evenly over the whole video)")
    train.add_argument("--epochs", type=int, default=None,
                       help="total epochs (default: 10; with --resume, the run's saved total)")
    train.add_argument("--batch-size", type=int, default=16, help="clips per batch per device")
    train.add_argument("--clip", default="8x32x32", help="FRAMESxHEIGHTxWIDTH fed to the model")
    train.add_argument("--samples", type=int, default=1600, help="clips to generate for synthetic data")
    train.add_argument("--preset", default="small",
                       help="the model's preset: small, paper, or another it has (videokit models lists them; "
                            "torchvision for weights imported from torchvision)")
    train.add_argument("--precision", default="float32", choices=PRECISIONS,
                       help="Keras dtype policy; mixed_float16 needs a GPU on TensorFlow, mixed_bfloat16 runs anywhere")
    train.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    train.add_argument("--strategy", default="none", choices=("none", "mirrored", "multi-worker"),
                       help="mirrored: data parallel over all GPUs (tf.distribute or the Keras distribution API); "
                            "multi-worker: over several processes or machines, one `videokit train` each")
    train.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="multi-worker: worker 0's address (with --num-workers and --worker-index; "
                            "otherwise TF_CONFIG or SLURM's variables say)")
    train.add_argument("--num-workers", type=int, default=None, metavar="N", help="multi-worker: processes in all")
    train.add_argument("--worker-index", type=int, default=None, metavar="I",
                       help="multi-worker: this process, 0 to N-1; worker 0 writes the run directory")
    train.add_argument("--coordinator-port", type=int, default=None, metavar="PORT",
                       help="multi-worker under SLURM: the port on the first node (default 12355)")
    train.add_argument("--connect-timeout", type=float, default=None, metavar="SECONDS",
                       help="multi-worker: how long a worker waits for the coordinator (worker 0 for the others) "
                            "before it stops with one line (default 120)")
    train.add_argument("--logical-cpus", type=int, default=0, metavar="N",
                       help="split the CPU into N logical devices, to try --strategy mirrored without GPUs")
    train.add_argument("--learning-rate", type=float, default=2e-3, help="Adam's learning rate")
    train.add_argument("--init-from", default=None, metavar="PATH",
                       help="start from the weights of a run directory or a .keras file (layers matched by name "
                            "and shape; a head with other classes starts fresh)")
    train.add_argument("--freeze", default="none", choices=("none", "backbone"),
                       help="backbone: train only the 'predictions' head (transfer learning's first stage)")
    train.add_argument("--unfreeze-after", type=int, default=None, metavar="N",
                       help="with --freeze backbone: train the whole model after N epochs (fine-tuning's second stage)")
    train.add_argument("--backbone-lr-scale", type=float, default=1.0, metavar="SCALE",
                       help="the backbone's learning rate relative to the head's (e.g. 0.1; 0 keeps it fixed)")
    train.add_argument("--augment", default=None, metavar="NAMES",
                       help="classifiers' training augmentation, the same for every frame of a clip, comma-separated: "
                            "shift, crop (random resized), multiscale (TSN) or scale (jitter); flip; jitter (temporal "
                            "shift); speed (frame rate); mixup; cutmix; or none (default: shift,flip for folders of "
                            "videos, none for synthetic data)")
    train.add_argument("--mixup-alpha", type=float, default=0.2, help="MixUp's Beta parameter (--augment mixup)")
    train.add_argument("--cutmix-alpha", type=float, default=1.0, help="CutMix's Beta parameter (--augment cutmix)")
    train.add_argument("--seed", type=int, default=0, help="seed for the data, the initial weights and shuffling")
    train.add_argument("--run-dir", type=pathlib.Path, default=None, help="where the run goes (default: runs/MODEL)")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    train.add_argument("--overwrite", action="store_true", help="replace the run in --run-dir")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                       help="Keras fit output: 0 none, 1 a progress bar, 2 one line per epoch")
    train.set_defaults(run=_train)


def _cluster(arguments):
    """This process's ``Cluster`` for ``--strategy multi-worker`` (``None`` otherwise), or one error line."""
    from videokit.cluster import resolve_cluster

    flags = (arguments.coordinator, arguments.num_workers, arguments.worker_index, arguments.coordinator_port,
             arguments.connect_timeout)
    if arguments.strategy != "multi-worker":
        if any(flag is not None for flag in flags):
            raise ValueError("--coordinator, --num-workers, --worker-index, --coordinator-port and --connect-timeout "
                             "are for --strategy multi-worker.")
        return None
    return resolve_cluster(coordinator=arguments.coordinator, num_workers=arguments.num_workers,
                           worker_index=arguments.worker_index, coordinator_port=arguments.coordinator_port,
                           connect_timeout=arguments.connect_timeout)


def _train(arguments):
    from videokit import config as run_config

    run_dir = arguments.run_dir or pathlib.Path("runs") / arguments.model
    epochs = arguments.epochs
    if epochs is None:
        saved = run_config.saved_config(run_dir) if arguments.resume else None
        epochs = saved.epochs if saved else run_config.RunConfig.epochs
    config = run_config.RunConfig(
        model=arguments.model, data=arguments.data, epochs=epochs, batch_size=arguments.batch_size,
        clip=run_config.parse_clip(arguments.clip), samples=arguments.samples, preset=arguments.preset,
        precision=arguments.precision, jit=arguments.jit, strategy=arguments.strategy,
        learning_rate=arguments.learning_rate, split_file=arguments.split_file, split=arguments.split,
        cache=arguments.cache, skip_bad_videos=arguments.skip_bad_videos, seed=arguments.seed,
        sampling=arguments.sampling, init_from=arguments.init_from, freeze=arguments.freeze,
        augment=arguments.augment, mixup_alpha=arguments.mixup_alpha, cutmix_alpha=arguments.cutmix_alpha,
        backbone_lr_scale=arguments.backbone_lr_scale, unfreeze_after=arguments.unfreeze_after,
    )
    cluster = _cluster(arguments)
    if cluster is None or cluster.is_chief:  # the other workers write nothing to the run directory
        run_config.check_run_dir(run_dir, config, resume=arguments.resume, overwrite=arguments.overwrite)
    if arguments.logical_cpus:
        _split_cpu(arguments.logical_cpus)  # before Keras starts its backend
    import matplotlib

    matplotlib.use("Agg")  # the run's pictures go to files
    from videokit import training  # imports Keras: after the logical CPUs are set up

    history = training.train(config, run_dir, resume=arguments.resume, overwrite=arguments.overwrite,
                             verbose=arguments.verbose, cluster=cluster)
    if cluster is not None and not cluster.is_chief:
        print(f"worker {cluster.worker_index} done; worker 0 wrote {run_dir}")
        return 0
    final = {name: values[-1] for name, values in history.items()}
    print(f"run directory: {run_dir}")
    print("final epoch: " + ", ".join(f"{name} {value:.4f}" for name, value in sorted(final.items())))
    if "val_accuracy" in final:
        classes = len(json.loads((run_dir / "classes.json").read_text()))
        print(f"validation accuracy {final['val_accuracy']:.3f} (chance {1 / classes:.3f}); "
              f"see {run_dir / 'curves.png'} and {run_dir / 'confusion.png'}")
    return 0


def _split_cpu(count):
    """Make ``count`` logical CPU devices before the backend starts."""
    import os

    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count}"
    import keras

    if keras.backend.backend() == "tensorflow":
        from videokit import tf_support

        tf_support.split_cpu(count)


def _add_evaluate(commands):
    evaluate = commands.add_parser(
        "evaluate", help="accuracy, per-class report and confusion matrix of a run",
        description="Score a classifier run on its validation videos (or --data). On a folder of videos each video "
        "is decoded once and scored from CLIPS x CROPS views, their predictions averaged, as papers report "
        "(e.g. --clips 10 --crops 3); video-level and clip-level (each view alone) accuracy are printed side by side "
        "and the per-video predictions written to a CSV file.")
    evaluate.add_argument("run_dir", type=pathlib.Path, help="a run directory made by videokit train")
    evaluate.add_argument("--data", default=None, help="evaluate on this data instead of the run's validation split")
    evaluate.add_argument("--output", type=pathlib.Path, default=None,
                          help="folder for confusion.png and the predictions (default: the run directory)")
    evaluate.add_argument("--clips", type=int, default=1,
                          help="clips per video, spread evenly over it (folders of videos)")
    evaluate.add_argument("--crops", type=int, default=1,
                          help="1: the centre crop; 3: three crops along the longer side of the frame")
    evaluate.add_argument("--average", default="probabilities", choices=("probabilities", "logits"),
                          help="what is averaged over a video's views")
    evaluate.add_argument("--predictions", type=pathlib.Path, default=None, metavar="CSV",
                          help="per-video predictions file (default: OUTPUT/predictions-CLIPSxCROPS.csv)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing predictions file")
    evaluate.set_defaults(run=_evaluate)


def _evaluate(arguments):
    from videokit.training import views

    views.check_views(arguments.clips, arguments.crops, arguments.average)  # before Keras starts
    import matplotlib

    matplotlib.use("Agg")
    from videokit import training

    report = training.evaluate(arguments.run_dir, data=arguments.data, output=arguments.output,
                               clips=arguments.clips, crops=arguments.crops, average=arguments.average,
                               predictions=arguments.predictions, overwrite=arguments.overwrite)
    support = sum(row["support"] for row in report["per_class"])
    if report.get("views", 1) == 1:
        print(f"accuracy {report['accuracy']:.3f} on {support} clips")
    else:
        print(f"accuracy {report['accuracy']:.3f} on {support} videos, {arguments.clips} clips x {arguments.crops} "
              f"crops each, {arguments.average} averaged")
    if "views" in report:
        print(_views_line(report))
    print(f"{'class':>16} {'precision':>9} {'recall':>7} {'clips':>6}")
    for row in report["per_class"]:
        print(f"{row['class']:>16} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['support']:>6}")
    print(f"confusion matrix: {report['plot']}")
    if report.get("predictions_csv"):
        print(f"per-video predictions: {report['predictions_csv']}")
    return 0


def _views_line(report):
    """Video and clip accuracy side by side, and what they cost."""
    views = report["views"]
    compute = f"{report['forward_passes']} forward passes ({views} view{'s' * (views > 1)} per video)"
    if report["gflops_per_view"] is not None:
        gflops = report["gflops_per_view"]
        compute += f", {gflops:.3f} GFLOPs per view = {gflops * views:.3f} per video"
    return (f"video accuracy {report['video_accuracy']:.3f}, clip accuracy {report['clip_accuracy']:.3f} "
            f"(each view alone); {compute}")


def _add_predict(commands):
    predict = commands.add_parser("predict", help="classify video files, or predict how they go on")
    predict.add_argument("run_dir", type=pathlib.Path, help="a run directory made by videokit train")
    predict.add_argument("videos", nargs="+", type=pathlib.Path, help="video files")
    predict.add_argument("--top-k", type=int, default=3, help="classes shown per video (classifiers)")
    predict.add_argument("--steps", type=int, default=8, help="frames to predict (next-frame predictors)")
    predict.add_argument("--output", type=pathlib.Path, default=None,
                         help="folder for predicted videos (default: beside each video)")
    predict.add_argument("--stream", action="store_true",
                         help="causal classifiers (causal_c3d): decode one VIDEO (or a camera, /dev/video0) frame by "
                              "frame and print the top class and the latency after every frame")
    predict.set_defaults(run=_predict)


def _predict_stream(arguments):
    import numpy as np

    from videokit import training

    if len(arguments.videos) != 1:
        raise ValueError(f"predict --stream takes one video or camera; got {len(arguments.videos)}.")
    latencies = []
    for frame in training.stream_video(arguments.run_dir, arguments.videos[0]):
        latencies.append(frame.latency_ms)
        print(f"frame {frame.index}: {frame.class_name} {frame.probability:.3f} ({frame.latency_ms:.1f} ms)",
              flush=True)
    if latencies:
        print(f"{len(latencies)} frames: latency per frame mean {np.mean(latencies):.1f} ms, "
              f"95th percentile {np.percentile(latencies, 95):.1f} ms")
    return 0


def _predict(arguments):
    from videokit import training

    if arguments.stream:
        return _predict_stream(arguments)

    results = training.predict_videos(arguments.run_dir, arguments.videos, top_k=arguments.top_k,
                                      steps=arguments.steps, output=arguments.output)
    for path, result in zip(arguments.videos, results):
        if isinstance(result, list):
            print(f"{path}: " + ", ".join(f"{name} {probability:.3f}" for name, probability in result))
        else:
            print(f"{path}: predicted continuation written to {result}")
    return 0


def _add_export(commands):
    from videokit.export import FORMATS

    export = commands.add_parser("export", help="write a trained model as SavedModel, ONNX or TFLite, checked")
    export.add_argument("run_dir", type=pathlib.Path, help="a run directory made by videokit train")
    export.add_argument("--format", required=True, choices=FORMATS,
                        help="savedmodel (TensorFlow Serving), onnx (onnxruntime), tflite (LiteRT, 2D models and streaming steps)")
    export.add_argument("--output", type=pathlib.Path, default=None,
                        help="file to write (default: RUN_DIR/export/savedmodel, model.onnx or model.tflite)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export")
    export.add_argument("--streaming", action="store_true",
                        help="causal models (causal_c3d): export the step function, one frame and the states in, the "
                             "output and the new states out (default file: step.onnx, step.tflite, step_savedmodel)")
    export.set_defaults(run=_export)


def _export(arguments):
    from videokit.export import export_run

    result = export_run(arguments.run_dir, arguments.format, output=arguments.output, overwrite=arguments.overwrite,
                        streaming=arguments.streaming)
    if result.streaming:
        print(f"{result.path}: {result.format} streaming step (inputs frame and state0..state"
              f"{len(result.state_shapes) - 1}, zeros at the start; outputs the prediction and the new states); its "
              f"own runtime gives the Keras stream's outputs at every frame (largest difference "
              f"{result.max_difference:.1g} on a random clip)")
        return 0
    print(f"{result.path}: {result.format}; its own runtime gives the Keras model's outputs "
          f"(largest difference {result.max_difference:.1g} on a random clip)")
    return 0


def _add_import_weights(commands):
    importing = commands.add_parser(
        "import-weights", help="turn a downloaded Hugging Face or torchvision checkpoint into a .keras model"
    )
    importing.add_argument("path", type=pathlib.Path,
                           help="a Hugging Face model folder (config.json + weights) or one weights file")
    importing.add_argument("--architecture", default=None,
                           help="the checkpoint's architecture (read from config.json when there is one); "
                                "videokit models lists the supported ones")
    importing.add_argument("--output", type=pathlib.Path, required=True, help="the .keras file to write")
    importing.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    importing.set_defaults(run=_import_weights)


def _import_weights(arguments):
    from videokit._files import atomic_path
    from videokit.weights import import_weights

    if arguments.output.suffix != ".keras":
        raise ValueError(f"--output {arguments.output}: expected a .keras file.")
    if arguments.output.exists() and not arguments.overwrite:
        raise FileExistsError(f"{arguments.output} exists; pass --overwrite to replace it.")
    model = import_weights(arguments.path, architecture=arguments.architecture)
    with atomic_path(arguments.output) as partial:
        model.save(partial)
    print(f"{arguments.output}: {model.name}, {model.count_params():,} parameters, from {arguments.path}")
    return 0


def _add_explain(commands):
    explain = commands.add_parser("explain", help="classify a video and draw where the top class is (Grad-CAM, or a transformer's attention)")
    explain.add_argument("run_dir", type=pathlib.Path, help="a classifier run directory made by videokit train")
    explain.add_argument("video", type=pathlib.Path, help="a video file")
    explain.add_argument("--output", type=pathlib.Path, default=None,
                         help="folder for <video>.explain.png (default: beside the video)")
    explain.set_defaults(run=_explain)


def _explain(arguments):
    from videokit import explain

    result = explain.explain_video(arguments.run_dir, arguments.video, output=arguments.output)
    print(f"{arguments.video}: {result['class']} {result['probability']:.3f}; {result['method']} drawn in {result['picture']}")
    return 0


def _add_bench(commands):
    from videokit.config import MODEL_NAMES, PRECISIONS

    bench = commands.add_parser("bench", help="training and inference speed of a model")
    bench.add_argument("--model", default="c3d", metavar="NAME", help=f"one of {', '.join(MODEL_NAMES)}")
    bench.add_argument("--clip", default="16x112x112", help="FRAMESxHEIGHTxWIDTH of the clips")
    bench.add_argument("--batch-size", type=int, default=8, help="clips per step")
    bench.add_argument("--preset", default="paper", choices=("small", "paper"), help="model size")
    bench.add_argument("--precision", default="float32", choices=PRECISIONS, help="Keras dtype policy")
    bench.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    bench.add_argument("--steps", type=int, default=5, help="timed training steps after one warm-up")
    bench.set_defaults(run=_bench)


def _bench(arguments):
    from videokit import benchmark, training

    result = benchmark.measure(arguments.model, training.parse_clip(arguments.clip), arguments.batch_size,
                               preset=arguments.preset, precision=arguments.precision, jit=arguments.jit,
                               steps=arguments.steps)
    print(benchmark.format_table([result]))
    return 0


def _add_grade(commands):
    grade = commands.add_parser(
        "grade",
        help="grade exercise notebooks with otter-grader, hidden tests included, each in a sandbox",
        description="Grade student notebooks of the exercises in exercises/ against the hidden tests of their "
        "masters in solutions/, each in a bubblewrap sandbox of its own, and score them outside it. Prints a score "
        "table and writes grades.json, grades.csv and the journal grades.jsonl (one line per notebook, written as "
        "soon as it is graded). Exit status: 0 when every notebook was graded (whatever its score), 1 when some "
        "could not be graded (not a notebook, unknown exercise set, kernel died, time limit), 2 on a usage error "
        "or when no sandbox is available.",
    )
    grade.add_argument("submissions", nargs="+", type=pathlib.Path, help="notebooks, or folders of notebooks")
    grade.add_argument("--output", type=pathlib.Path, default=pathlib.Path("grades"),
                       help="folder for grades.json, grades.csv and grades.jsonl")
    grade.add_argument("--timeout", type=float, default=120.0, help="seconds each cell and each test may run")
    grade.add_argument("--wall-limit", type=float, default=None, metavar="SECONDS",
                       help="seconds one notebook may take in all, enforced from outside its sandbox "
                            "(default: 120 + 3 x timeout x (questions + 2))")
    grade.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time")
    grade.add_argument("--solutions", type=pathlib.Path, default=None,
                       help="folder of the solution masters (default: solutions/ of this checkout)")
    grade.add_argument("--resume", action="store_true",
                       help="keep the results in OUTPUT/grades.jsonl of notebooks that have not changed since, "
                            "and grade the others (finishes an interrupted batch)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="grade without bubblewrap where it is not available: students' code then runs with "
                            "your permissions and can change any grade (the reports say so)")
    grade.set_defaults(run=_grade)


def _grade(arguments):
    from videokit import grading

    def progress(result):
        print(f"{result.path}: {grading.format_score(result)}", file=sys.stderr, flush=True)

    if arguments.timeout <= 0 or arguments.jobs < 1 or (arguments.wall_limit is not None and arguments.wall_limit <= 0):
        raise ValueError(f"--timeout and --wall-limit must be positive and --jobs at least 1; "
                         f"got {arguments.timeout}, {arguments.wall_limit} and {arguments.jobs}.")
    if arguments.no_sandbox:
        print("videokit grade: --no-sandbox: students' code runs with your permissions; the reports say so",
              file=sys.stderr)
    try:
        results = grading.grade(arguments.submissions, timeout=arguments.timeout, jobs=arguments.jobs,
                                solutions=arguments.solutions, progress=progress, output=arguments.output,
                                resume=arguments.resume, sandboxed=not arguments.no_sandbox,
                                wall_limit=arguments.wall_limit)
    except (ImportError, grading.SandboxUnavailable) as error:  # otter-grader or bubblewrap missing.
        raise ValueError(str(error)) from None
    print(grading.format_table(results))
    json_path, csv_path = grading.write_reports(results, arguments.output)
    print(f"reports: {json_path}, {csv_path} and {arguments.output / 'grades.jsonl'}")
    failed = [result for result in results if result.status != "graded"]
    if failed:
        print(f"videokit grade: {len(failed)} of {len(results)} notebooks could not be graded", file=sys.stderr)
    return 1 if failed else 0


def _demo(arguments):
    import matplotlib

    matplotlib.use("Agg")
    from videokit import io, viz
    from videokit.data import moving_shapes

    grid_path = arguments.out / "frame_grid.png"
    if grid_path.exists() and not arguments.overwrite:
        raise FileExistsError(f"{arguments.out} already holds a demo; pass --overwrite to replace it.")
    videos, labels, class_names = moving_shapes(arguments.clips, num_frames=32, size=96)
    print(f"made {len(videos)} synthetic clips of shape {videos.shape[1:]} ({len(class_names)} motion classes)")
    clips, titles = [], []
    for number, (video, label) in enumerate(zip(videos, labels)):
        name = class_names[label]
        relative = f"{name}/{name}_{number:02d}.mp4" if arguments.folders else f"{name}.mp4"
        path = io.write_video(arguments.out / relative, video, fps=16, overwrite=arguments.overwrite)
        if arguments.folders and number >= 8:
            continue  # in the folder, not in the grid
        started = time.perf_counter()
        clip = io.read_video(path, num_frames=8, sampling="uniform", size=64)
        elapsed = time.perf_counter() - started
        info = io.probe(path)
        print(f"  {path}: {info.num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps, "
              f"{info.codec}; decoded {clip.shape} in {elapsed * 1000:.1f} ms")
        clips.append(clip)
        titles.append(class_names[label])
    figure = viz.frame_grid(clips, titles=titles, path=grid_path)
    print(f"frame grid of the decoded clips: {grid_path}")
    if arguments.folders:
        print(f"{len(videos)} videos in {len(set(labels.tolist()))} class folders: videokit train --data {arguments.out}")
    figure.clf()
    return 0


def _info(arguments):
    from videokit import io

    for path in arguments.videos:
        info = io.probe(path)
        print(f"{path}: {info.num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps, "
              f"{info.duration:.2f} s, codec {info.codec}, rotation {info.rotation}")
    return 0
