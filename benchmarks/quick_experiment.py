"""Wall time of the README's main command (target: under 4 minutes on 2 CPU cores).

    python benchmarks/quick_experiment.py [--preset quick]

Runs ``python -m emokit.experiment --preset quick`` in a fresh data and results folder (corpus
generation, feature extraction, 10 training runs, report and plots all included), as a user's
first run does, and prints the machine, the total and the per-stage times from its log.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} "
          "(other jobs on the machine slow this down)")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, EMOKIT_QUICK="0", EMOKIT_DATA=f"{tmp}/data",
                   EMOKIT_RESULTS=f"{tmp}/results", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
        start = time.perf_counter()
        log = subprocess.run([sys.executable, "-m", "emokit.experiment", "--preset", args.preset],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
        total = time.perf_counter() - start
    for line in log.replace("\r", "\n").splitlines():
        if re.match(r"(corpus|features|fold \d|\S+\s+fold \d+ seed)", line):
            print(" ", line.strip())
    print(log[log.index("| system"):log.index("results:")].strip())
    print(f"total wall time: {total:.0f} s (target: 240 s)")


if __name__ == "__main__":
    main()
