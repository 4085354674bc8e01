"""Time of ``python -m emokit.experiment.robustness`` over a finished quick experiment (target: at most a
quarter of the quick command's time, i.e. about 60 s on 2 idle CPU cores).

    python benchmarks/robustness.py results/quick

Copies the experiment folder without its robustness results (so every run is evaluated under
every condition and the noisy features are computed, not read from the cache), runs the command
there, and prints the wall time and the CPU time of the process (user + system, children
included: the CPU time says what the work costs when other jobs load the machine), then a second
run on the same copy (everything done: it only rewrites the table).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(command: list[str], env: dict) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a finished experiment folder, e.g. results/quick")
    args = parser.parse_args()
    source = Path(args.experiment).resolve()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} "
          "(other jobs on the machine slow this down)")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / source.name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(
            "robustness", "robustness.csv", "robustness.md", "robustness.png"))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
        command = [sys.executable, "-m", "emokit.experiment.robustness", str(copy)]
        wall, cpu, log = _timed(command, env)
        rows = (copy / "robustness.csv").read_text().count("\n") - 1
        print(log[log.index("| condition"):].strip())
        print(f"every run under every condition: {rows} rows, wall {wall:.0f} s, "
              f"CPU {cpu:.0f} s (user + system)")
        wall, cpu, _ = _timed(command, env)
        print(f"rerun, nothing left to evaluate: wall {wall:.0f} s, CPU {cpu:.0f} s")


if __name__ == "__main__":
    main()
