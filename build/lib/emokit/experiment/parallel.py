"""Independent tasks in N worker processes on one machine, one accelerator shared between them.

>>> tasks = [Task(("baseline", 1, 0), "baseline fold 1 seed 0", train_one, (1, 0)),
...          Task(("warm", 1, 0), "warm fold 1 seed 0", train_one, (1, 0),
...               after=(("baseline", 1, 0),))]                       # doctest: +SKIP
>>> run_tasks(tasks, jobs=2, on_done=lambda task, result: print(task.label, result))  # doctest: +SKIP

:func:`emokit.experiment.runner.run_experiment` uses it for ``ExperimentConfig.jobs >= 2``: each
(system, fold, seed) run is one :class:`Task`. What this module does:

- **Spawned workers.** ``min(jobs, tasks)`` processes of the ``spawn`` start method (safe with
  TensorFlow, whose threads do not survive a fork; it works from Jupyter because the worker and
  task functions live in importable modules). A task's function and arguments are pickled by
  reference: the function must be defined at module level.
- **Each process's share of the machine** (:func:`tensorflow_worker`, before anything touches a
  GPU): TensorFlow's GPU memory growth on for every GPU, so N processes share one accelerator
  instead of the first taking all its memory; and ``max(1, cores // jobs)`` intra-op threads
  (:func:`threads_per_worker`; a set ``TF_NUM_INTRAOP_THREADS`` wins), so N processes do not
  oversubscribe the CPU. That count changes float results in their last digits (a reduction
  split over other threads sums in another order): a run in a worker gives exactly the numbers
  of the same run in one process with the same intra-op thread count.
- **Order.** A task starts once every task of its ``after`` that is in this batch has finished
  (a warm-started run waits for its baseline); an idle worker prefers a task of the ``group`` it
  worked on last (a fold whose data it has prepared), then a group no other worker holds.
- **Failures.** A task that raises, or whose worker dies (killed, out of memory), is reported:
  no new task starts after a failure, the tasks in progress finish (``on_done`` is called for
  each), then :class:`TasksFailedError` names every failed task and how many were not started.
  A worker whose parent dies exits too (so a restarted parent never trains beside an orphan).

Not measured on a GPU: no GPU with TensorFlow was available to the session that built this. On
one, the calling process must not hold the GPU itself: a notebook kernel that has already run
TensorFlow there without memory growth keeps nearly all its memory (restart the kernel first).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from emokit.core.errors import UserError


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker process: ``function(*args)`` (a module-level function, its
    result picklable), named ``key`` (unique) and ``label`` (for people)."""

    key: Hashable
    label: str
    function: Callable
    args: tuple = ()
    after: tuple = ()  # keys of tasks that must finish first (keys outside the batch: done)
    group: Hashable = None  # tasks of one group prefer the worker that ran that group last


class TasksFailedError(UserError, RuntimeError):
    """Some tasks failed (raised, or their worker died); the others' results were delivered.
    ``failed``: ``{label: what happened}``; ``exit_code``: the first failure's when it was a
    :class:`emokit.core.errors.UserError`, else 1."""

    def __init__(self, failed: dict[str, str], not_started: int, what: str, exit_code: int = 1):
        self.failed = dict(failed)
        self.exit_code = exit_code
        lines = [f"{len(failed)} {what} failed:"]
        lines += [f"  {label}: {reason}" for label, reason in failed.items()]
        finished = "the finished ones are kept"
        if not_started:
            finished += f"; {not_started} did not start"
        lines.append(f"({finished}; run the same command again to resume)")
        super().__init__("\n".join(lines))


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def threads_per_worker(jobs: int, cores: int | None = None) -> int:
    """Each worker's intra-op thread count: ``TF_NUM_INTRAOP_THREADS`` when it is set, else its
    share ``max(1, cores // jobs)`` of the usable cores."""
    configured = os.environ.get("TF_NUM_INTRAOP_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, (cores if cores is not None else usable_cores()) // jobs)


def tensorflow_worker(jobs: int) -> None:
    """Set up TensorFlow in a fresh worker process, before it touches a GPU: memory growth on
    for every GPU (processes share it) and :func:`threads_per_worker` intra-op threads."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    tf.config.threading.set_intra_op_parallelism_threads(threads_per_worker(jobs))


def no_setup(jobs: int) -> None:
    """A worker set-up that does nothing (tasks that do not use TensorFlow)."""


def _exit_with_parent() -> None:
    """End this worker at once when its parent process ends, however it ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="emokit-parent-watch", daemon=True).start()


def _describe(error: BaseException) -> tuple[str, int | None]:
    """What a task's exception says, and its exit status when it is a user error; a bug keeps
    the last lines of its traceback."""
    if isinstance(error, UserError):
        return f"{type(error).__name__}: {error}", error.exit_code
    text = "".join(traceback.format_exception(error)).rstrip()
    return "\n    ".join(text.splitlines()[-12:]), None


def _worker(connection, setup: Callable[[int], None], jobs: int) -> None:
    """A worker process: set up, then run the tasks the parent sends until it sends ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()
    setup(jobs)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, function, args = message
        try:
            reply = ("done", key, function(*args))
        except BaseException as error:  # noqa: BLE001 -- every failure goes back to the parent
            reply = ("failed", key, _describe(error))
        sys.stdout.flush()
        connection.send(reply)


class _Worker:
    def __init__(self, context, setup, jobs: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, setup, jobs),
                                       name="emokit-worker", daemon=True)
        self.process.start()
        child.close()
        self.task: Task | None = None
        self.group = None

    def send(self, task: Task) -> None:
        self.task, self.group = task, task.group
        self.connection.send((task.key, task.function, task.args))

    def stop(self) -> None:
        """Let an idle worker exit; end a busy one (stopped early: Ctrl-C, an error here)."""
        if self.process.is_alive() and self.task is None:
            try:
                self.connection.send(None)
            except OSError:
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.connection.close()


def _death(process) -> str:
    """How a worker process ended, in words."""
    process.join(1)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"its worker process (PID {process.pid}) was killed by {name}"
    return f"its worker process (PID {process.pid}) ended (exit status {code})"


def _next_task(worker: _Worker, ready: list[Task], busy_groups: set) -> Task:
    for prefer in (lambda t: t.group == worker.group, lambda t: t.group not in busy_groups):
        for task in ready:
            if prefer(task):
                return task
    return ready[0]


def run_tasks(tasks: Sequence[Task], jobs: int, on_done: Callable[[Task, object], None],
              setup: Callable[[int], None] = tensorflow_worker, what: str = "task(s)") -> None:
    """Run ``tasks`` in ``min(jobs, len(tasks))`` spawned worker processes; ``on_done(task,
    result)`` is called in this process as each one finishes. ``setup(jobs)`` runs first in
    every worker (:func:`tensorflow_worker`: memory growth and each process's thread share).

    Raises :class:`TasksFailedError` after the tasks in progress have finished if any task
    failed (see the module docstring); on Ctrl-C the workers are stopped (their tasks lose
    what they had not saved) and ``KeyboardInterrupt`` propagates."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    pending = list(tasks)
    in_batch = set(keys)
    finished: set = set()
    failed: dict[str, str] = {}
    exit_codes: list[int | None] = []
    context = multiprocessing.get_context("spawn")
    workers = [_Worker(context, setup, jobs) for _ in range(min(jobs, len(tasks)))]
    try:
        while True:
            if not failed:
                _assign(workers, pending, finished, in_batch)
            busy = [w for w in workers if w.task is not None]
            if not busy:
                break
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                reply = _reply(worker)
                if reply is None:
                    continue
                task, worker.task = worker.task, None
                status, _, payload = reply
                if status == "done":
                    finished.add(task.key)
                    on_done(task, payload)
                else:
                    failed[task.label], code = payload
                    exit_codes.append(code)
            workers = [w for w in workers if w.process.is_alive() or w.task is not None]
    finally:
        for worker in workers:
            worker.stop()
    if pending and not failed:
        raise RuntimeError(f"every worker process ended with {len(pending)} {what} left")
    if failed:
        code = exit_codes[0] if exit_codes and exit_codes[0] is not None else 1
        raise TasksFailedError(failed, len(pending), what, code)


def _assign(workers: list[_Worker], pending: list[Task], finished: set, in_batch: set) -> None:
    """Give every idle worker a task whose prerequisites have finished."""
    for worker in workers:
        if worker.task is not None or not worker.process.is_alive():
            continue
        ready = [t for t in pending
                 if all(k in finished or k not in in_batch for k in t.after)]
        if not ready:
            return
        busy_groups = {w.group for w in workers if w.task is not None}
        task = _next_task(worker, ready, busy_groups)
        pending.remove(task)
        worker.send(task)


def _reply(worker: _Worker) -> tuple | None:
    """The worker's answer if it has one, a failure if it died, ``None`` while it works."""
    try:
        if worker.connection.poll():
            return worker.connection.recv()
    except (EOFError, OSError):
        pass
    else:
        if worker.process.is_alive():
            return None
    return ("failed", worker.task.key, (_death(worker.process), None))
