"""Multi-worker training: where the cluster comes from, the shards, and real worker processes on TensorFlow and JAX."""

import csv
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest

import videokit
from videokit import io
from videokit.cluster import Cluster, expand_nodelist, resolve_cluster, shard_indices
from videokit.data import moving_shapes
from videokit.training.checkpoints import checkpoint_state


def tf_config(workers, index):
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def test_explicit_flags():
    cluster = resolve_cluster(coordinator="localhost:2000", num_workers=3, worker_index=2, environ={})
    assert cluster == Cluster(3, 2, "localhost:2000") and not cluster.is_chief
    assert cluster.worker_addresses() == ["localhost:2000", "localhost:2001", "localhost:2002"]


def test_tf_config():
    environ = {"TF_CONFIG": tf_config(["a:1", "b:2"], 0)}
    cluster = resolve_cluster(environ=environ)
    assert cluster == Cluster(2, 0, "a:1", ("a:1", "b:2")) and cluster.is_chief
    assert cluster.worker_addresses() == ["a:1", "b:2"]


def test_explicit_flags_agreeing_with_tf_config():
    environ = {"TF_CONFIG": tf_config(["a:1", "b:2"], 1)}
    cluster = resolve_cluster(coordinator="a:1", num_workers=2, worker_index=1, environ=environ)
    assert cluster.worker_index == 1


def test_slurm():
    environ = {"SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_STEP_NODELIST": "gpu[07-08,10],cpu1",
               "SLURM_JOB_NODELIST": "ignored"}
    cluster = resolve_cluster(environ=environ)
    assert (cluster.num_workers, cluster.worker_index, cluster.coordinator) == (4, 2, "gpu07:12355")
    assert cluster.worker_addresses() == ["gpu07:12355", "gpu08:12355", "gpu10:12355", "cpu1:12355"]
    environ = {"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "n[1-2]"}  # two tasks a node
    assert resolve_cluster(coordinator_port=999, environ=environ).worker_addresses() == [
        "n1:999", "n1:1000", "n2:999", "n2:1000"]


def test_explicit_flags_come_before_slurm():
    environ = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "n1"}
    assert resolve_cluster(coordinator="h:5", num_workers=2, worker_index=1, environ=environ) == Cluster(2, 1, "h:5")


def test_expand_nodelist():
    assert expand_nodelist("node[01-03,07]") == ["node01", "node02", "node03", "node07"]
    assert expand_nodelist("a,b[9-10]x,c") == ["a", "b9x", "b10x", "c"]


@pytest.mark.parametrize("arguments, environ, message", [
    ({"coordinator": "h:1", "num_workers": 2, "worker_index": 2}, {}, "worker index must be in 0..1 for 2 workers"),
    ({"coordinator": "h:1", "num_workers": 0, "worker_index": 0}, {}, "number of workers must be at least 1"),
    ({"coordinator": "h", "num_workers": 2, "worker_index": 0}, {}, "coordinator must be HOST:PORT"),
    ({"num_workers": 2}, {}, "go together; give all three"),
    ({}, {}, "found none"),
    ({}, {"TF_CONFIG": "{not json"}, "TF_CONFIG must be JSON like"),
    ({}, {"TF_CONFIG": json.dumps({"cluster": {"worker": []}, "task": {"index": 0}})}, "TF_CONFIG must be JSON"),
    ({}, {"TF_CONFIG": tf_config(["a:1"], 1)}, "worker index must be in 0..0"),
    ({"coordinator": "a:1", "num_workers": 3, "worker_index": 0}, {"TF_CONFIG": tf_config(["a:1", "b:2"], 0)},
     "disagree with TF_CONFIG"),
    ({}, {"SLURM_PROCID": "x", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1"}, "must be whole numbers"),
    ({}, {"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, "must name the nodes"),
    ({}, {"SLURM_PROCID": "3", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1"}, "worker index must be in 0..1"),
    ({}, {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n[3-1]"}, "cannot expand"),
    ({}, {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n[a-b]"}, "cannot expand"),
])
def test_errors_say_what_was_expected(arguments, environ, message):
    with pytest.raises(ValueError, match=message) as error:
        resolve_cluster(**arguments, environ=environ)
    assert "\n" not in str(error.value)


def test_shards_are_disjoint_equal_and_cover_all_but_the_remainder():
    shards = [shard_indices(11, Cluster(3, index, "h:1")) for index in range(3)]
    assert [len(shard) for shard in shards] == [3, 3, 3]
    assert sorted(index for shard in shards for index in shard) == list(range(9))
    assert shard_indices(5, None) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="cannot be shared by 3 workers"):
        shard_indices(2, Cluster(3, 0, "h:1"))


def free_port():
    """A free port whose next one is free too: with explicit flags, TensorFlow's worker 1 listens there."""
    while True:
        with socket.socket() as probe, socket.socket() as next_one:
            probe.bind(("localhost", 0))
            port = probe.getsockname()[1]
            try:
                next_one.bind(("localhost", port + 1))
            except OSError:
                continue
            return port


# A worker: `videokit train` with every decoded video file counted, one line per read in DECODED_LOG.
WORKER = """
import os, sys
from videokit import io
from videokit.cli import main

read_video = io.read_video

def counted(path, *args, **kwargs):
    with open(os.environ["DECODED_LOG"], "a") as log:
        log.write(f"{path}\\n")
    return read_video(path, *args, **kwargs)

io.read_video = counted
sys.exit(main(sys.argv[1:]))
"""

# One process trains the model of the run in RUN on the global batches the workers made: at step k of an
# epoch, the k-th batch of every worker's shard in that epoch's order; prints how far its weights are from
# the chief's last.keras.
ONE_PROCESS = """
import json, pathlib, sys
import keras, numpy as np
from videokit.cluster import Cluster, epoch_order, shard_indices
from videokit.config import RunConfig
from videokit.training.task import task_for

run, workers = pathlib.Path(sys.argv[1]), int(sys.argv[2])
config = RunConfig.from_json((run / "config.json").read_text())
keras.utils.set_random_seed(config.seed)
task = task_for(config)
data = task.load_data(config.batch_size * workers)
model = task.build(data)
keras.utils.set_random_seed(config.seed)
shards = [np.asarray(shard_indices(len(data.train), Cluster(workers, index, "h:1"))) for index in range(workers)]
size, batch = len(shards[0]), config.batch_size
for epoch in range(config.epochs):
    order = epoch_order(size, config.seed, epoch)
    for step in range(size // batch):
        chosen = np.concatenate([shard[order[step * batch:(step + 1) * batch]] for shard in shards])
        model.train_on_batch(data.train[chosen], data.train_targets[chosen])
chief = keras.models.load_model(run / "last.keras")
steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
# Equal to rounding: the workers sum two halves of each gradient where one process sums the whole batch.
# Adam divides each gradient component by its own scale, so a component whose gradient is near rounding
# level moves by more than its rounding: a few values (1 in 10,000) may differ beyond rtol 1e-5 and
# atol 1e-5, none by 5% of one Adam step (learning rate / 20). A wrong batch, scale or statistic moves
# nearly all values by about a step (a JAX run whose epochs were out of order: all, up to 6 steps).
largest, far, count = 0.0, 0, 0
for variable, chief_variable in zip(model.weights, chief.weights):
    mine, theirs = keras.ops.convert_to_numpy(variable), keras.ops.convert_to_numpy(chief_variable)
    far += int(np.sum(~np.isclose(theirs, mine, rtol=1e-5, atol=1e-5)))
    count += mine.size
    largest = max(largest, float(np.max(np.abs(theirs - mine))))
assert far <= count / 10_000 and largest <= config.learning_rate / 20, (far, count, largest)
print(json.dumps({"steps": steps, "weights": len(model.weights), "values": count, "beyond_1e-5": far,
                  "largest_difference": largest}))
"""


def clean_environment():
    """This environment without cluster settings, importing the videokit under test from any folder."""
    environment = {name: value for name, value in os.environ.items()
                   if name != "TF_CONFIG" and not name.startswith("SLURM_")}
    source = str(pathlib.Path(videokit.__file__).resolve().parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [source, environment.get("PYTHONPATH")]))
    return environment


def start_workers(tmp_path, backend, launcher, arguments, count=2, port=None):
    """``count`` worker processes of ``videokit train ARGUMENTS`` in ``tmp_path``, told who they are by
    ``launcher``: "flags" (--coordinator ...), "tf_config" or "slurm" (the variables srun sets)."""
    port = port or free_port()
    workers = []
    for index in range(count):
        scratch = tmp_path / f"tmp{index}"
        scratch.mkdir(exist_ok=True)
        environment = dict(clean_environment(), KERAS_BACKEND=backend, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
                           TMPDIR=str(scratch), DECODED_LOG=str(tmp_path / f"decoded{index}.txt"))
        command = ["train", "--strategy", "multi-worker", "--run-dir", "run", *arguments]
        if launcher == "flags":
            command += ["--coordinator", f"localhost:{port}", "--num-workers", str(count), "--worker-index", str(index)]
        elif launcher == "tf_config":
            environment["TF_CONFIG"] = tf_config([f"localhost:{port + worker}" for worker in range(count)], index)
        else:
            environment.update(SLURM_PROCID=str(index), SLURM_NTASKS=str(count), SLURM_JOB_NODELIST="localhost")
            command += ["--coordinator-port", str(port)]
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER, *command], cwd=tmp_path, env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return workers


def finish(workers, timeout=400):
    outputs = [worker.communicate(timeout=timeout) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stdout[-2000:] + stderr[-3000:]
    return outputs


@pytest.mark.slow
@pytest.mark.backend_independent  # the workers choose their backend whatever the test run's
@pytest.mark.parametrize("backend, data, launcher", [("tensorflow", "moving_shapes", "flags"),
                                                     ("jax", "moving_shapes", "slurm"),
                                                     ("tensorflow", "videos", "tf_config")])
def test_two_workers_share_the_data_and_only_the_chief_writes(tmp_path, backend, data, launcher):
    if data == "videos":  # 3 videos of each of 8 classes: 2 of each for training, 16 in all
        videos, labels, names = moving_shapes(24, num_frames=12, size=32, seed=1)
        for number, (video, label) in enumerate(zip(videos, labels)):
            (tmp_path / "videos" / names[label]).mkdir(parents=True, exist_ok=True)
            io.write_video(tmp_path / "videos" / names[label] / f"{number}.mp4", video)
    unit = "videos" if data == "videos" else "clips"
    workers = start_workers(tmp_path, backend, launcher, ["--data", data, "--samples", "40", "--clip", "8x32x32",
                                                          "--batch-size", "4", "--epochs", "1", "--verbose", "2"])
    outputs = finish(workers)

    shards = []
    for index, (stdout, _) in enumerate(outputs):
        shard = rf"worker (\d) of 2 trains on {unit} (\d)::2 of the (\d+) training {unit}: (\d+) {unit}"
        match = re.search(shard, stdout)
        assert match and int(match[1]) == int(match[2]) == index, stdout
        total, size = int(match[3]), int(match[4])
        shards.append(set(range(index, total, 2)))
        assert len(shards[-1]) == size == total // 2
        assert "global batch 8 = 4 per worker x 2 workers" in stdout
    assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(total))
    assert "validation accuracy" in outputs[0][0] and "worker 1 done; worker 0 wrote run" in outputs[1][0]

    run = tmp_path / "run"
    assert sorted(path.name for path in run.iterdir()) == sorted(
        ["best.keras", "classes.json", "config.json", "confusion.png", "curves.png", "last.keras", "logs",
         "metrics.csv", "state.json"])
    assert json.loads((run / "state.json").read_text())["optimizer_steps"] == total // 2 // 4
    assert json.loads((run / "config.json").read_text())["strategy"] == "multi-worker"
    assert not any((tmp_path / "tmp1").iterdir())  # the other worker's scratch run directory is gone
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir() and path.name != "videos") == [
        "run", "tmp0", "tmp1"]

    if data == "videos":  # each worker decoded only its own training videos (and, as all evaluate, the validation ones)
        decoded = [set((tmp_path / f"decoded{index}.txt").read_text().split()) for index in range(2)]
        validation = decoded[0] & decoded[1]
        assert len(validation) == 24 - total and all(decoded[index] - validation for index in range(2))
        trained = [decoded[index] - validation for index in range(2)]
        assert [len(videos) for videos in trained] == [total // 2] * 2 and not trained[0] & trained[1]
        return

    environment = dict(clean_environment(), KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    one = subprocess.run([sys.executable, "-c", ONE_PROCESS, str(run), "2"], cwd=tmp_path, env=environment,
                         capture_output=True, text=True, timeout=300, check=False)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-4000:]
    compared = json.loads(one.stdout.strip().splitlines()[-1])
    assert compared["steps"] == total // 2 // 4 and compared["weights"] > 10, compared
    print(compared)  # measured: 1 to 3 of 137,024 values beyond 1e-5 on TensorFlow (largest 1.4e-5), none on JAX

    if backend == "tensorflow":  # resumed by one process, with the strategy its command asks for
        resumed = subprocess.run([sys.executable, "-m", "videokit", "train", "--resume", "--epochs", "2", "--run-dir",
                                  "run", "--verbose", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=400,
                                 env=environment, check=False)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert json.loads((run / "state.json").read_text())["epochs_done"] == 2
        assert json.loads((run / "config.json").read_text())["strategy"] == "none"


@pytest.mark.backend_independent  # a subprocess that stops before any backend computes
@pytest.mark.parametrize("arguments, message", [
    (["--strategy", "multi-worker"], "needs --coordinator HOST:PORT --num-workers N --worker-index I"),
    (["--num-workers", "2"], "are for --strategy multi-worker"),
    (["--strategy", "multi-worker", "--coordinator", "localhost:1", "--num-workers", "2", "--worker-index", "2"],
     "worker index must be in 0..1 for 2 workers"),
    (["--strategy", "multi-worker", "--coordinator", "localhost:1", "--num-workers", "2", "--worker-index", "1",
      "--connect-timeout", "0"], "connect timeout must be a positive number of seconds"),
    (["--connect-timeout", "5"], "are for --strategy multi-worker"),
])
def test_the_command_line_refuses_a_wrong_cluster_in_one_line(tmp_path, arguments, message):
    environment = clean_environment()
    result = subprocess.run([sys.executable, "-m", "videokit", "train", "--run-dir", "run", *arguments], cwd=tmp_path,
                            env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.backend_independent  # the workers choose their backend whatever the test run's
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_worker_killed_mid_run_and_all_resumed_train_every_epoch_once(tmp_path, backend):
    arguments = ["--samples", "80", "--clip", "8x32x32", "--batch-size", "4", "--epochs", "3", "--verbose", "2"]
    steps = 64 // 2 // 4  # 64 training clips, 32 a worker, 4 a batch
    workers = start_workers(tmp_path, backend, "flags", arguments)
    run, deadline = tmp_path / "run", time.monotonic() + 300
    while not (run / "last.keras").exists():  # the chief has finished an epoch
        assert time.monotonic() < deadline and all(worker.poll() is None for worker in workers), [
            worker.communicate() for worker in workers if worker.poll() is not None]
        time.sleep(0.05)
    workers[1].kill()
    time.sleep(1)
    workers[0].kill()  # the chief cannot go on without its peer: stopped as a user would
    for worker in workers:
        worker.communicate(timeout=60)
    killed_after = checkpoint_state(run / "last.keras")["epochs_done"]
    assert 1 <= killed_after < 3, "the run was not stopped mid-run"

    outputs = finish(start_workers(tmp_path, backend, "flags", ["--resume", *arguments]))
    state = json.loads((run / "state.json").read_text())
    assert (state["epochs_done"], state["optimizer_steps"]) == (3, 3 * steps), state
    assert [int(epoch) for epoch in read_metrics_column(run, "epoch")] == [1, 2, 3]
    for stdout, _ in outputs:  # every worker went on from the chief's last finished epoch
        epochs = [int(epoch) for epoch in re.findall(r"^Epoch (\d+)/3", stdout, re.MULTILINE)]
        assert epochs == list(range(killed_after + 1, 4)), stdout[-2000:]


def read_metrics_column(run, name):
    with (run / "metrics.csv").open() as handle:
        return [row[name] for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.backend_independent
def test_a_worker_that_cannot_reach_the_coordinator_stops_with_one_line(tmp_path):
    port = free_port()  # nobody listens there
    command = [sys.executable, "-m", "videokit", "train", "--strategy", "multi-worker", "--coordinator",
               f"localhost:{port}", "--num-workers", "2", "--worker-index", "1", "--connect-timeout", "2",
               "--run-dir", "run", "--samples", "40", "--epochs", "1"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, env=dict(clean_environment(), KERAS_BACKEND="tensorflow"),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]
    assert f"worker 1 could not reach the coordinator localhost:{port} in 2 s" in line, line
    assert time.monotonic() - started < 100
    assert not (tmp_path / "run").exists()
