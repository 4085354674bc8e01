"""One experiment per results folder: emokit.core.lock and run_experiment's use of it."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _hold_lock(folder: Path):
    """A live process holding ``folder``'s lock until killed."""
    script = textwrap.dedent(f"""
        import sys, time
        from emokit.core.lock import results_lock
        with results_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def test_a_second_process_refuses_naming_the_owner(tmp_path):
    from emokit.core.lock import LockedError, results_lock

    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(LockedError, match=rf"in use by another emokit process \(PID "
                                              rf"{holder.pid} on {socket.gethostname()}"), \
                results_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with results_lock(tmp_path):  # the dead holder's lock is stale: taken over
        owner = json.loads((tmp_path / ".emokit.lock").read_text())
        assert owner["pid"] == os.getpid()
    assert not (tmp_path / ".emokit.lock").exists()


def test_a_lock_of_a_dead_pid_or_half_written_is_stale(tmp_path):
    from emokit.core.lock import results_lock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".emokit.lock").write_text(json.dumps({"pid": dead.pid,
                                                       "host": socket.gethostname()}))
    with results_lock(tmp_path):
        pass
    (tmp_path / ".emokit.lock").write_text('{"pid": 12')  # damaged long ago
    old = time.time() - 3600
    os.utime(tmp_path / ".emokit.lock", (old, old))
    with results_lock(tmp_path):
        pass


def test_an_empty_lock_file_just_written_is_not_stale(tmp_path):
    """Another process may be between creating the lock file and writing its PID: refused."""
    from emokit.core.lock import LockedError, results_lock

    (tmp_path / ".emokit.lock").write_text("")
    with pytest.raises(LockedError, match=r"cannot be read.*delete"), results_lock(tmp_path):
        pass
    assert (tmp_path / ".emokit.lock").exists()


def test_processes_starting_at_one_instant_get_the_lock_once(tmp_path):
    """Racers released at one instant: exactly one holds the lock, every trial."""
    script = textwrap.dedent("""
        import sys, time
        from emokit.core.lock import LockedError, acquire
        start = float(sys.argv[1])
        while time.time() < start:
            pass
        try:
            acquire(sys.argv[2])
        except LockedError:
            print("refused", flush=True)
        else:
            print("locked", flush=True)
            time.sleep(1.0)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for trial in range(3):
        folder = tmp_path / f"t{trial}"
        start = time.time() + 1.5
        racers = [subprocess.Popen([sys.executable, "-c", script, str(start), str(folder)],
                                   stdout=subprocess.PIPE, env=env) for _ in range(4)]
        outcomes = [r.communicate()[0].decode().strip() for r in racers]
        assert outcomes.count("locked") == 1, (trial, outcomes)


def test_a_lock_with_this_pid_not_held_here_is_a_restarted_kernels(tmp_path):
    """A restarted kernel that got its old PID back takes its own leftover lock over; a lock this
    process does hold is still refused, with what to do."""
    from emokit.core.lock import LockedError, results_lock

    (tmp_path / ".emokit.lock").write_text(json.dumps({"pid": os.getpid(),
                                                       "host": socket.gethostname()}))
    with results_lock(tmp_path), \
            pytest.raises(LockedError, match=r"already locked by this process.*restart"), \
            results_lock(tmp_path):
        pass


def test_the_data_lock_makes_a_second_process_wait(tmp_path):
    """data_lock is exclusive across processes (the second one waits, then gets it)."""
    from emokit.core.lock import data_lock

    script = textwrap.dedent(f"""
        import time
        from emokit.core.lock import data_lock
        t = time.time()
        with data_lock({str(tmp_path)!r}):
            print(round(time.time() - t, 1), flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with data_lock(tmp_path), data_lock(tmp_path):  # re-entrant in one process
        other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 env=env, text=True)
        first = other.stdout.readline()  # blocks until "waiting ..." is printed
        assert first.startswith("waiting for another emokit process"), first
    assert other.communicate()[0].strip()  # it got the lock once this process let go
    assert other.returncode == 0


def test_a_lock_from_another_host_says_how_to_clear_it(tmp_path):
    from emokit.core.lock import LockedError, results_lock

    (tmp_path / ".emokit.lock").write_text(json.dumps({"pid": 1, "host": "colab-vm-7",
                                                       "started": "yesterday"}))
    with pytest.raises(LockedError, match=r"PID 1 on colab-vm-7.*delete .*\.emokit\.lock"), \
            results_lock(tmp_path):
        pass


def test_a_lock_of_another_host_not_refreshed_for_long_is_stale(tmp_path):
    from emokit.core.lock import STALE_AFTER_S, results_lock

    path = tmp_path / ".emokit.lock"
    path.write_text(json.dumps({"pid": 1, "host": "colab-vm-7", "started": "yesterday"}))
    old = time.time() - STALE_AFTER_S - 60
    os.utime(path, (old, old))
    with results_lock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_run_experiment_refuses_while_another_process_holds_the_folder(tmp_path, monkeypatch):
    from emokit.config import ExperimentConfig
    from emokit.core.lock import LockedError
    from emokit.experiment import runner

    config = ExperimentConfig(results_dir=str(tmp_path), name="shared")
    work = []
    monkeypatch.setattr(runner, "load_corpus", lambda cfg: work.append(cfg) or ([], {}))
    holder = _hold_lock(tmp_path / "shared")
    try:
        with pytest.raises(LockedError, match="in use by another emokit process"):
            runner.run_experiment(config, verbose=False)
    finally:
        holder.kill()
        holder.wait()
    assert work == []  # refused before any work


def test_robustness_takes_the_lock_unless_its_own_experiment_holds_it(tmp_path, monkeypatch):
    """``robustness: true`` runs the pass inside run_experiment, which holds the lock already;
    alone, the pass takes the lock itself."""
    from emokit.core.lock import holds, results_lock
    from emokit.experiment import robustness

    seen = []
    monkeypatch.setattr(robustness, "_evaluate_robustness",
                        lambda folder, verbose: seen.append(holds(folder)) or [])
    assert not holds(tmp_path)
    with results_lock(tmp_path):
        assert holds(tmp_path)
        robustness.evaluate_robustness(tmp_path)  # no LockedError from its own experiment
    robustness.evaluate_robustness(tmp_path)
    assert seen == [True, True] and not holds(tmp_path)
    assert not (tmp_path / ".emokit.lock").exists()
