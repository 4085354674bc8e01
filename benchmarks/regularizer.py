"""What each pair loss does to the encoders, with and without gradient-ratio scaling.

    python benchmarks/regularizer.py [--preset quick] [--folds 1] [--weight 0.3]

Trains the preset's baseline and one regularized system per discriminator kind at the same
weight, first as configured (``pair_loss_scaling: none``), then with ``grad_ratio`` scaling, and
prints the report's "what the regularizer did" tables: pair accuracy against its chance level,
the gradient-norm ratio pair/CE on the encoders (without scaling, one lambda means very different
pulls across kinds; with it, the ratio sits at the weight), the linear probes' UA on each code,
and cross-modal retrieval of emotion. Results go to ``<results>/regularizer-*``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time

from emokit.config import DISCRIMINATORS
from emokit.experiment import run_experiment
from emokit.presets import get_preset
from emokit.report import to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--folds", type=int, nargs="+", default=[1])
    parser.add_argument("--weight", type=float, default=0.3)
    parser.add_argument("--kinds", nargs="+", default=list(DISCRIMINATORS))
    args = parser.parse_args()
    base = get_preset(args.preset)
    print(f"machine: {platform.processor() or platform.machine()}, preset {args.preset}, "
          f"folds {args.folds}, weight {args.weight:g}")
    for scaling in ("none", "grad_ratio"):
        model = dataclasses.replace(base.model, pair_loss_scaling=scaling, pairing="instance")
        systems = ["baseline"] + [f"contrastive-{k}-{args.weight:g}" for k in args.kinds]
        config = dataclasses.replace(base, name=f"regularizer-{args.preset}-{scaling}",
                                     model=model, systems=systems, folds=args.folds,
                                     init_from=None)
        start = time.perf_counter()
        rows = run_experiment(config, verbose=False)
        print(f"\n## pair_loss_scaling: {scaling} ({time.perf_counter() - start:.0f} s, "
              "instance pairing)\n")
        print(to_markdown(rows, f"folds {args.folds} of the {args.preset} preset"))


if __name__ == "__main__":
    main()
