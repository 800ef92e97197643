"""Which worker this process is in a multi-worker run, from flags, ``TF_CONFIG`` or SLURM.

Kept free of Keras so that a wrong setting is refused before any backend starts.
"""

import dataclasses
import json
import os
import re
import socket
import time

DEFAULT_PORT = 12355
DEFAULT_CONNECT_TIMEOUT = 120  # seconds a worker waits for the coordinator, and the coordinator for the workers


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The workers of a run and this process's place among them.

    Args:
        num_workers: how many processes train together.
        worker_index: this process's index, ``0 <= worker_index < num_workers``.
        coordinator: ``"HOST:PORT"`` of worker 0, where the others connect.
        workers: ``"HOST:PORT"`` of every worker, where known (TF_CONFIG,
            SLURM); TensorFlow needs them. Empty: all on the coordinator's
            host, on the ports after its own.
        connect_timeout: seconds to wait for the coordinator (or, on
            worker 0, for the other workers) before giving up with one line.
    """

    num_workers: int
    worker_index: int
    coordinator: str
    workers: tuple = ()
    connect_timeout: float = dataclasses.field(default=DEFAULT_CONNECT_TIMEOUT, compare=False)

    def __post_init__(self):
        if self.num_workers < 1:
            raise ValueError(f"the number of workers must be at least 1; got {self.num_workers}.")
        if not 0 <= self.worker_index < self.num_workers:
            raise ValueError(f"the worker index must be in 0..{self.num_workers - 1} for {self.num_workers} "
                             f"workers; got {self.worker_index}.")
        host, _, port = str(self.coordinator).rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"the coordinator must be HOST:PORT, e.g. node01:{DEFAULT_PORT}; "
                             f"got {self.coordinator!r}.")
        if not self.connect_timeout > 0:
            raise ValueError(f"the connect timeout must be a positive number of seconds; got {self.connect_timeout}.")

    @property
    def is_chief(self):
        """Worker 0 writes the run directory."""
        return self.worker_index == 0

    def worker_addresses(self):
        """``HOST:PORT`` of every worker, for TF_CONFIG: ``workers``, or the coordinator's host, port after port."""
        if self.workers:
            return list(self.workers)
        host, _, port = self.coordinator.rpartition(":")
        return [f"{host}:{int(port) + index}" for index in range(self.num_workers)]


def resolve_cluster(*, coordinator=None, num_workers=None, worker_index=None, coordinator_port=None, environ=None,
                    connect_timeout=None):
    """The ``Cluster`` of this process, with ``connect_timeout`` (default 120 s); see ``_resolve_cluster``."""
    cluster = _resolve_cluster(coordinator=coordinator, num_workers=num_workers, worker_index=worker_index,
                               coordinator_port=coordinator_port, environ=environ)
    timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    return dataclasses.replace(cluster, connect_timeout=timeout)


def _resolve_cluster(*, coordinator, num_workers, worker_index, coordinator_port, environ):
    """The ``Cluster`` of this process, or ``ValueError`` in one line saying what was expected.

    In this order: the explicit ``coordinator``, ``num_workers`` and
    ``worker_index`` (all three); ``TF_CONFIG`` (its ``cluster.worker`` list
    and ``task.index``); SLURM's ``SLURM_PROCID``, ``SLURM_NTASKS`` and
    ``SLURM_STEP_NODELIST`` (or ``SLURM_JOB_NODELIST``), whose first node is
    the coordinator, on ``coordinator_port`` (default 12355).

    Returns:
        A ``Cluster``.
    """
    environ = os.environ if environ is None else environ
    explicit = (coordinator, num_workers, worker_index)
    tf_config = _tf_config(environ.get("TF_CONFIG"))
    if any(value is not None for value in explicit):
        if any(value is None for value in explicit):
            raise ValueError("--coordinator, --num-workers and --worker-index go together; give all three "
                             "(or none, to read TF_CONFIG or SLURM's variables).")
        cluster = Cluster(int(num_workers), int(worker_index), coordinator)
        if tf_config is not None and (tf_config.num_workers, tf_config.worker_index) != (cluster.num_workers,
                                                                                          cluster.worker_index):
            raise ValueError(f"--num-workers {num_workers} --worker-index {worker_index} disagree with TF_CONFIG "
                             f"({tf_config.num_workers} workers, index {tf_config.worker_index}); unset TF_CONFIG "
                             "or leave out the flags.")
        return cluster
    if tf_config is not None:
        return tf_config
    if "SLURM_PROCID" in environ:
        return _slurm_cluster(environ, coordinator_port or DEFAULT_PORT)
    raise ValueError("--strategy multi-worker needs --coordinator HOST:PORT --num-workers N --worker-index I, "
                     "a TF_CONFIG, or a SLURM job (srun); found none.")


def _tf_config(text):
    if not text:
        return None
    try:
        config = json.loads(text)
        workers, task = config["cluster"]["worker"], config["task"]
        if not isinstance(workers, list) or not workers or task.get("type", "worker") != "worker":
            raise ValueError
        index = int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError('TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         f'"task": {{"type": "worker", "index": 0}}}}; got {text[:200]!r}.') from None
    return Cluster(len(workers), index, workers[0], tuple(workers))


def _slurm_cluster(environ, port):
    nodelist = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_JOB_NODELIST")
    try:
        index, count = int(environ["SLURM_PROCID"]), int(environ["SLURM_NTASKS"])
    except (KeyError, ValueError):
        raise ValueError("under SLURM, SLURM_PROCID and SLURM_NTASKS must be whole numbers; got "
                         f"{environ.get('SLURM_PROCID')!r} and {environ.get('SLURM_NTASKS')!r}.") from None
    if not nodelist:
        raise ValueError("under SLURM, SLURM_STEP_NODELIST or SLURM_JOB_NODELIST must name the nodes; found neither.")
    nodes = expand_nodelist(nodelist)
    per_node = count // len(nodes) if count % len(nodes) == 0 else 0  # SLURM's default block distribution
    workers = tuple(f"{nodes[task // per_node]}:{port + task % per_node}" for task in range(count)) if per_node else ()
    return Cluster(count, index, f"{nodes[0]}:{port}", workers)


def expand_nodelist(text):
    """SLURM's compact node list as names: ``"node[01-03,07],gpu1"`` -> ``[node01, node02, node03, node07, gpu1]``.

    Only the simple forms: comma-separated names, each with at most one bracket of numbers and ranges.
    """
    names = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", text):
        match = re.fullmatch(r"([^\[\]]+)(?:\[([0-9,\-]+)\]([^\[\]]*))?", part)
        if not match:
            raise ValueError(f"cannot expand the SLURM node list {text!r}: expected names like node[01-03,07].")
        prefix, ranges, suffix = match.groups()
        if ranges is None:
            names.append(prefix)
            continue
        for item in ranges.split(","):
            first, _, last = item.partition("-")
            if not first.isdigit() or (last and not last.isdigit()) or (last and int(last) < int(first)):
                raise ValueError(f"cannot expand the SLURM node list {text!r}: {item!r} is not N or N-M.")
            numbers = range(int(first), int(last or first) + 1)
            names += [f"{prefix}{number:0{len(first)}d}{suffix}" for number in numbers]
    if not names:
        raise ValueError(f"cannot expand the SLURM node list {text!r}: it names no node.")
    return names


def wait_for_coordinator(cluster, *, poll=0.5):
    """Return once the coordinator's ``HOST:PORT`` takes connections; ``ValueError`` in one line after the timeout.

    Worker 0 starts the coordinator, so the other workers look for it before
    the backend connects (which, unreachable, would wait for a long time).
    """
    host, _, port = cluster.coordinator.rpartition(":")
    deadline = time.monotonic() + cluster.connect_timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=min(5.0, cluster.connect_timeout)):
                return
        except OSError as error:
            if time.monotonic() + poll >= deadline:
                reason = error.strerror or type(error).__name__
                raise ValueError(f"worker {cluster.worker_index} could not reach the coordinator {cluster.coordinator} "
                                 f"in {cluster.connect_timeout:g} s ({reason}): is worker 0 running there, is the "
                                 "address right and the port open? (--connect-timeout sets the wait)") from None
            time.sleep(poll)


def shard_indices(count, cluster):
    """The indices of ``count`` items this worker takes: every ``num_workers``-th, all shards the same length.

    The last ``count % num_workers`` items are left out, so that every worker takes the same number of steps.
    """
    if cluster is None:
        return list(range(count))
    per_worker = count // cluster.num_workers
    if per_worker < 1:
        raise ValueError(f"{count} training items cannot be shared by {cluster.num_workers} workers; "
                         "use more data or fewer workers.")
    return list(range(cluster.worker_index, per_worker * cluster.num_workers, cluster.num_workers))


def epoch_order(count, seed, epoch):
    """The order in which a worker takes the ``count`` items of its shard in ``epoch``: the same on every worker.

    A permutation drawn from ``(seed, epoch)`` alone, so that a run's global
    batches do not depend on timing, on which worker runs where, or on
    whether the epoch is trained straight through or after ``--resume``:
    the ``k``-th global batch of an epoch is the ``k``-th batch of every
    worker's shard in this order. One process reproduces it by taking, for
    each step, those batches of all shards together.

    Returns:
        A NumPy array of the ``count`` positions ``0..count-1``.
    """
    import numpy as np

    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(count))
