"""One experiment per results folder: emokit.lock and run_experiment's use of it."""

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
        from emokit.lock import results_lock
        with results_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def test_a_second_process_refuses_naming_the_owner(tmp_path):
    from emokit.lock import LockedError, results_lock

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
    from emokit.lock import results_lock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".emokit.lock").write_text(json.dumps({"pid": dead.pid,
                                                       "host": socket.gethostname()}))
    with results_lock(tmp_path):
        pass
    (tmp_path / ".emokit.lock").write_text('{"pid": 12')  # killed while writing it
    with results_lock(tmp_path):
        pass


def test_a_lock_from_another_host_says_how_to_clear_it(tmp_path):
    from emokit.lock import LockedError, results_lock

    (tmp_path / ".emokit.lock").write_text(json.dumps({"pid": 1, "host": "colab-vm-7",
                                                       "started": "yesterday"}))
    with pytest.raises(LockedError, match=r"PID 1 on colab-vm-7.*delete .*\.emokit\.lock"), \
            results_lock(tmp_path):
        pass


def test_a_lock_of_another_host_not_refreshed_for_long_is_stale(tmp_path):
    from emokit.lock import STALE_AFTER_S, results_lock

    path = tmp_path / ".emokit.lock"
    path.write_text(json.dumps({"pid": 1, "host": "colab-vm-7", "started": "yesterday"}))
    old = time.time() - STALE_AFTER_S - 60
    os.utime(path, (old, old))
    with results_lock(tmp_path):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_run_experiment_refuses_while_another_process_holds_the_folder(tmp_path, monkeypatch):
    from emokit import experiment
    from emokit.config import ExperimentConfig
    from emokit.lock import LockedError

    config = ExperimentConfig(results_dir=str(tmp_path), name="shared")
    work = []
    monkeypatch.setattr(experiment, "load_corpus", lambda cfg: work.append(cfg) or ([], {}))
    holder = _hold_lock(tmp_path / "shared")
    try:
        with pytest.raises(LockedError, match="in use by another emokit process"):
            experiment.run_experiment(config, verbose=False)
    finally:
        holder.kill()
        holder.wait()
    assert work == []  # refused before any work
