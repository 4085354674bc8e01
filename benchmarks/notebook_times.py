"""Each course notebook's wall time and peak memory, run as a Colab badge runs it.

Every student notebook (``notebooks/*.ipynb``) runs alone, in a fresh kernel of the Python that
runs this script, with empty data and results folders (each Colab runtime starts empty), in full
mode or quick mode (``EMOKIT_QUICK=1``, what the first cell's ``QUICK_MODE = True`` sets). Peak
memory is ``/usr/bin/time``'s maximum resident set of the largest process (the kernel).

    python benchmarks/notebook_times.py [--quick] [--only 04 05] [--json times.json]

Run it with a Colab-like stack (Python 3.12, the newest TensorFlow and Keras, no tensorflow-io)
for the README's notebook table. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(path: Path, quick: bool) -> dict:
    """Execute ``path`` in a fresh kernel with empty folders -> seconds, peak MB, exit status."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "EMOKIT_DATA": f"{scratch}/data",
               "EMOKIT_RESULTS": f"{scratch}/results", "MPLBACKEND": "Agg",
               "PYTHONPATH": str(ROOT)}
        env.pop("EMOKIT_QUICK", None)
        if quick:
            env["EMOKIT_QUICK"] = "1"
        report = Path(scratch) / "time.txt"
        command = ["/usr/bin/time", "-f", "%e %M", "-o", str(report), sys.executable, "-m",
                   "jupyter", "nbconvert", "--to", "notebook", "--execute",
                   "--ExecutePreprocessor.timeout=7200", "--output-dir", scratch, str(path)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT / "notebooks", env=env, capture_output=True,
                              text=True, check=False)
        seconds = time.perf_counter() - start
        peak_kb = int(report.read_text().split()[-1]) if report.exists() else 0
    row = {"notebook": path.name, "mode": "quick" if quick else "full",
           "seconds": round(seconds, 1), "peak_mb": round(peak_kb / 1024),
           "ok": done.returncode == 0}
    if not row["ok"]:
        row["error"] = done.stderr[-2000:]
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| notebook | mode | time | peak memory |", "|---|---|---:|---:|"]
    for r in rows:
        minutes, seconds = divmod(round(r["seconds"]), 60)
        status = "" if r["ok"] else " (FAILED)"
        lines.append(f"| {r['notebook']} | {r['mode']} | {minutes} min {seconds:02d} s{status} | "
                     f"{r['peak_mb'] / 1024:.1f} GB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="quick mode (EMOKIT_QUICK=1)")
    parser.add_argument("--only", nargs="+", help="notebook number prefixes, e.g. 04 06")
    parser.add_argument("--json", help="append each row to this JSON-lines file")
    args = parser.parse_args(argv)
    import tensorflow as tf  # the stack the kernels will use, for the record

    print(f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
          f"{os.cpu_count()} CPUs", flush=True)
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name.split("_")[0] in args.only]
    rows = []
    for path in paths:
        rows.append(run_notebook(path, args.quick))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "error"}), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
    print(markdown(rows))
    failed = [r for r in rows if not r["ok"]]
    for r in failed:
        print(f"\n{r['notebook']} failed:\n{r['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
