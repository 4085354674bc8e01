"""emokit.experiment.parallel: tasks in spawned worker processes, their order, each process's thread share,
and what a failed task or a killed worker leaves. (Workers here skip TensorFlow: ``no_setup``.)"""

import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from emokit.core.errors import ConfigError
from emokit.experiment.parallel import (
    Task,
    TasksFailedError,
    _next_task,
    no_setup,
    run_tasks,
    threads_per_worker,
)

# Task functions run in the workers: module level, so that they pickle by reference.


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.01)


def _blocked_until(go: Path, done: Path) -> int:
    _wait_for(go)
    done.touch()
    return os.getpid()


def _touch(path: Path) -> int:
    path.touch()
    return os.getpid()


def _saw(path: Path) -> bool:
    return path.exists()


def _gone(pid: int) -> bool:
    """True once every thread of process ``pid`` has ended (zombies count as ended). The thread
    group's leader shows "Z" while its other threads (a numpy's BLAS pool, say) are still being
    torn down, and the process's pipes close only when the last one is: its parent cannot know
    of the death before that."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return True  # reaped
    for thread in threads:
        try:
            state = thread.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue  # this thread is gone
        if state not in ("Z", "X"):
            return False
    return True


def _killed_once(started: Path, pid_file: Path) -> None:
    _wait_for(started)
    pid_file.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


def _outlives(started: Path, pid_file: Path) -> str:
    started.touch()
    _wait_for(pid_file)
    while not _gone(int(pid_file.read_text())):
        time.sleep(0.01)
    return "finished"


def _bad_config():
    raise ConfigError(["train.epochs: 0 is below the minimum 1"])


def _bug():
    return 1 / 0


def _run(tasks, jobs=2):
    done = []
    run_tasks(tasks, jobs, lambda task, result: done.append((task.key, result)), setup=no_setup)
    return dict(done)


def test_a_task_starts_only_after_the_tasks_it_waits_for(tmp_path):
    # "a" cannot finish before "c" has run; a scheduler that ignored `after` would start "b" on
    # the second worker at once, while "a" still waits, and "b" would not see a.done
    go, a_done = tmp_path / "go", tmp_path / "a.done"
    done = _run([Task("a", "task a", _blocked_until, (go, a_done)),
                 Task("b", "task b", _saw, (a_done,), after=("a",)),
                 Task("c", "task c", _touch, (go,)),
                 Task("d", "task d", _saw, (a_done,), after=("finished earlier",))])
    assert set(done) == {"a", "b", "c", "d"}  # every result came back, to this process
    assert done["b"] is True
    assert os.getpid() not in (done["a"], done["c"])  # they ran in worker processes


def test_an_idle_worker_keeps_to_its_group_then_takes_a_free_one():
    ready = [Task(k, k, _saw, group=g) for k, g in (("x", 1), ("y", 2), ("z", 3))]
    assert _next_task(SimpleNamespace(group=2), ready, busy_groups={1}).key == "y"
    assert _next_task(SimpleNamespace(group=None), ready, busy_groups={1}).key == "y"
    assert _next_task(SimpleNamespace(group=None), ready, busy_groups={1, 2, 3}).key == "x"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_worker_fails_only_its_task_and_the_others_finish(tmp_path):
    started, pid_file = tmp_path / "started", tmp_path / "pid"
    done = []
    tasks = [Task("killed", "baseline fold 2 seed 0", _killed_once, (started, pid_file)),
             Task("other", "audio fold 1 seed 0", _outlives, (started, pid_file)),
             Task("warm", "warm fold 2 seed 0", _saw, (pid_file,), after=("killed",)),
             Task("later", "text fold 3 seed 0", _saw, (pid_file,))]
    with pytest.raises(TasksFailedError) as failure:
        run_tasks(tasks, 2, lambda task, result: done.append((task.key, result)),
                  setup=no_setup, what="run(s)")
    # the run in progress on the other worker finished and was delivered; no new run started
    assert done == [("other", "finished")]
    message = str(failure.value)
    assert "1 run(s) failed:\n  baseline fold 2 seed 0: its worker process (PID " in message
    assert "was killed by SIGKILL" in message
    assert "2 did not start" in message and "run the same command again to resume" in message
    assert failure.value.exit_code == 1 and list(failure.value.failed) == ["baseline fold 2 seed 0"]


def test_a_task_that_raises_is_named_with_its_error(tmp_path):
    with pytest.raises(TasksFailedError) as user_error:
        _run([Task("bad", "baseline fold 1 seed 0", _bad_config),
              Task("next", "warm fold 1 seed 0", _saw, (tmp_path,), after=("bad",))], jobs=1)
    assert ("baseline fold 1 seed 0: ConfigError: 1 problem(s) in the config:\n"
            "  train.epochs: 0 is below the minimum 1") in str(user_error.value)
    assert user_error.value.exit_code == 2  # the user error's own status
    assert "1 did not start" in str(user_error.value)
    with pytest.raises(TasksFailedError) as bug:
        _run([Task("bug", "text fold 1 seed 0", _bug)], jobs=1)
    assert "in _bug" in str(bug.value) and "ZeroDivisionError: division by zero" in str(bug.value)


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert [threads_per_worker(j, cores=8) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")  # TensorFlow's own setting wins
    assert threads_per_worker(2, cores=8) == 3


def test_jobs_is_checked_on_the_command_line(tmp_path, capsys):
    from emokit.experiment.cli import main

    assert main(["--jobs", "0", "--results", str(tmp_path)]) == 2
    assert "jobs: 0 is not allowed; allowed: a whole number >= 1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before any work
