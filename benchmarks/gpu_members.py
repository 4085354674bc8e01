"""K runs trained in one compiled step against K processes, on one GPU (Keras/JAX proxy).

Runs of one architecture differ only in their weights, optimizer states and batches (issue 30),
so K of them can be trained as one model holding K independent members: ``jax.vmap`` over the
stacked states and batches of K runs, compiled once, one launch per step for all K. On a CPU this
does not pay (measured: 64-75 ms per model-step for K = 4 against 36-52 ms alone); on a GPU one
run of emokit's size leaves the device mostly idle, and K processes only take turns on it
(``docs/gpu.md``: 5,406 utterances/s for 1 process, 5,283 for 8).

For K = 1, 2, 4, 8 at the ``paper`` preset's sizes (``gpu_paper_table.paper_dims_and_shape``,
float32, batch 128 per member):

1. **members in one step**: the median step of the vmapped step -> utterances/s of all members;
2. **processes**: K worker processes at once (``gpu_paper_table.concurrent``), as ``--jobs K``;
3. **the paper table**: its projected device time with either speed-up
   (``gpu_paper_table.projection``: 35 runs, an IEMOCAP-size fold, 31 to 100 epochs).

    KERAS_BACKEND=jax PYTHONPATH=/path/to/repo python benchmarks/gpu_members.py [--smoke]

Prints a Markdown table; writes ``$OUT/gpu_members.json`` when ``OUT`` is set. Not yet measured:
no GPU was lent to the session that wrote it (the README's GPU page says so).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax
import jax.numpy as jnp
from gpu_keras_jax import build, environment, make_train_step, random_batch
from gpu_paper_table import Run, concurrent, paper_dims_and_shape, projection, timed

MEMBERS = (1, 2, 4, 8)


def stacked(trees: list):
    """K pytrees of arrays -> one pytree of arrays with a leading member axis ``(K, ...)``."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *trees)


class Members:
    """K independent runs of one architecture in one compiled step: ``train()`` steps all K."""

    def __init__(self, k: int, batch: int, smoke: bool):
        dims, shape, alpha = paper_dims_and_shape(smoke)
        model, optimizer = build("float32", alpha, shape, dims)
        state = ([v.value for v in model.trainable_variables],
                 [v.value for v in model.non_trainable_variables],
                 [v.value for v in optimizer.variables])
        # every member starts from the same weights (values do not change the step's cost) and
        # reads its own batch
        self.state = stacked([state] * k)
        self.inputs = jax.device_put(stacked([random_batch(batch, shape, seed=i, dims=dims)
                                              for i in range(k)]))
        self.step = jax.jit(jax.vmap(make_train_step(model, optimizer)), donate_argnums=0)
        self.k, self.batch = k, batch
        jax.block_until_ready(self.train())

    def train(self):
        loss, _, self.state = self.step(self.state, self.inputs)
        return loss


def members_row(k: int, batch: int, steps: int, smoke: bool) -> dict:
    run = Members(k, batch, smoke)
    step_s = statistics.median(timed(run.train, steps))
    row = {"members": k, "batch_each": batch, "step_ms": round(1e3 * step_s, 2),
           "utterances_per_s": round(k * batch / step_s, 1)}
    print(json.dumps(row), flush=True)
    return row


def markdown(result: dict) -> str:
    lines = ["| K | members in one step: utterances/s | speed-up | paper table, min (31 / 100 "
             "epochs) | K processes: utterances/s | speed-up | paper table, min |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    one_m = result["members"][0]["utterances_per_s"]
    one_p = result["processes"][0]["utterances_per_s"]
    for m, p, pm, pp in zip(result["members"], result["processes"],
                            result["projection_members"]["rows"],
                            result["projection_processes"]["rows"]):
        lines.append(
            f"| {m['members']} | {m['utterances_per_s']:,.0f} | "
            f"{m['utterances_per_s'] / one_m:.2f}x | {pm['minutes_at_shortest_stop']} / "
            f"{pm['minutes_at_epoch_cap']} | {p['utterances_per_s']:,.0f} | "
            f"{p['utterances_per_s'] / one_p:.2f}x | {pp['minutes_at_shortest_stop']} / "
            f"{pp['minutes_at_epoch_cap']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a quick CPU check")
    parser.add_argument("--members", type=int, nargs="+", default=list(MEMBERS))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per K")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="the timed window of the concurrent processes")
    args = parser.parse_args(argv)
    batch = 4 if args.smoke else 128
    result = {"environment": environment(), "smoke": args.smoke}
    result["members"] = [members_row(k, batch, args.steps, args.smoke) for k in args.members]
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"gpu_members_{os.getpid()}"
    result["processes"] = [concurrent(k, batch, args.seconds, args.smoke, scratch)
                           for k in args.members]
    one = Run("float32", batch, args.smoke)  # the projection's one-run step and forward pass
    step_ms = 1e3 * statistics.median(timed(one.train, args.steps))
    eval_ms = 1e3 * statistics.median(timed(one.evaluate, args.steps))
    for kind, rows, key in (("members", result["members"], "members"),
                            ("processes", result["processes"], "processes")):
        base = rows[0]["utterances_per_s"]
        scaling = {r[key]: r["utterances_per_s"] / base for r in rows}
        result[f"projection_{kind}"] = projection(step_ms, eval_ms, scaling, batch)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_members.json").write_text(json.dumps(result, indent=1))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
