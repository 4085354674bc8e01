"""What each pair loss does to the encoders, with and without gradient-ratio scaling.

    python benchmarks/regularizer.py [--preset quick] [--folds 1] [--weight 0.3]
                                     [--part steps tables] [--epochs 6] [--json out.json]

Two parts, both on the preset's data with instance pairing, one regularized system per
discriminator kind at the same weight:

- ``steps``: the pull each training step *applied* under ``pair_loss_scaling: grad_ratio``,
  ``|scale * w * grad L| / |grad CE term|`` on the encoders' weights (the step's
  ``step_grad_ratio``; the CE term is ``CE`` under ``objective: sum`` and ``(1 - alpha) CE``
  under ``convex``), for every step of ``--epochs`` epochs on the first of ``--folds``: median
  and 5th-95th percentile per kind. The target is the weight. It drives ``emokit.training.trainer.Trainer``
  directly, so the same file measures an older Trainer too (put that checkout first on
  ``PYTHONPATH``).
- ``tables``: the preset's baseline and the regularized systems, first as configured
  (``pair_loss_scaling: none``), then with ``grad_ratio``, with ``train.monitor`` on, and prints
  the report's "what the regularizer did" tables: pair accuracy against its chance level, the
  monitored gradient-norm ratio pair/CE on the encoders (per epoch on one fixed validation batch,
  see ``TrainConfig.monitor``; the table shows the kept epoch's), the linear probes' UA on each
  code, and cross-modal retrieval of emotion. Results go to ``<results>/regularizer-*``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from emokit.config import DISCRIMINATORS
from emokit.config.presets import get_preset


def applied_ratios(config, fold_data, kind: str, weight: float, epochs: int,
                   seed: int = 0) -> np.ndarray:
    """Train ``kind`` at ``weight`` with ``grad_ratio`` scaling for ``epochs`` epochs ->
    every step's applied pull ratio ``(steps,)``."""
    import keras

    from emokit.model.emotion_model import build_model
    from emokit.training.trainer import Trainer, learning_rate_at

    model_config = dataclasses.replace(config.model, discriminator=kind, pairing="instance",
                                       contrastive_weight=weight, pair_loss_scaling="grad_ratio")
    train = dataclasses.replace(config.train, seed=seed, verbose=0, checkpoint_dir=None,
                                tensorboard_dir=None)
    model = build_model(model_config, fold_data.feature_dim, len(fold_data.vocab),
                        fold_data.num_classes, embedding_matrix=fold_data.embedding_matrix,
                        seed=seed)
    keras.utils.set_random_seed(seed)
    trainer = Trainer(model, train)
    dataset = fold_data.train_dataset(config.pipeline.shuffle_seed + seed)  # data_order_seed
    ratios = []
    for epoch in range(epochs):
        trainer.set_learning_rate(learning_rate_at(train, epoch))
        for inputs, labels in dataset:
            ratios.append(float(trainer.step(inputs, labels)["step_grad_ratio"]))
    return np.array(ratios)


def summarize_ratios(ratios: np.ndarray) -> dict:
    p5, median, p95 = np.percentile(ratios, [5, 50, 95])
    return {"median": float(median), "p5": float(p5), "p95": float(p95),
            "min": float(ratios.min()), "max": float(ratios.max()), "steps": len(ratios)}


def steps_part(config, args) -> dict:
    from emokit.data.pipeline import prepare_fold
    from emokit.experiment.corpus import experiment_folds, load_corpus

    utterances, features = load_corpus(config)
    utterances, folds = experiment_folds(dataclasses.replace(config, folds=args.folds[:1]),
                                         utterances)
    fold_data = prepare_fold(config, utterances, features, folds[0][1])
    print(f"\n## applied pull per step, grad_ratio scaling, weight {args.weight:g}, fold "
          f"{args.folds[0]}, {args.epochs} epochs ({config.model.objective} objective)\n")
    print("| kind | median | 5th-95th percentile | min-max | steps |\n|---|---|---|---|---|")
    out = {}
    for kind in args.kinds:
        s = summarize_ratios(applied_ratios(config, fold_data, kind, args.weight, args.epochs))
        out[kind] = s
        print(f"| {kind} | {s['median']:.3f} | {s['p5']:.3f}-{s['p95']:.3f} | "
              f"{s['min']:.3f}-{s['max']:.3f} | {s['steps']} |", flush=True)
    return out


def tables_part(config, args) -> None:
    from emokit.evaluation.report import to_markdown
    from emokit.experiment.runner import run_experiment

    for scaling in ("none", "grad_ratio"):
        model = dataclasses.replace(config.model, pair_loss_scaling=scaling, pairing="instance")
        train = dataclasses.replace(config.train, monitor=True)  # the grad_ratio column
        systems = ["baseline"] + [f"contrastive-{k}-{args.weight:g}" for k in args.kinds]
        cfg = dataclasses.replace(config, name=f"regularizer-{args.preset}-{scaling}",
                                  model=model, train=train, systems=systems, folds=args.folds,
                                  init_from=None)
        start = time.perf_counter()
        rows = run_experiment(cfg, verbose=False)
        print(f"\n## pair_loss_scaling: {scaling} ({time.perf_counter() - start:.0f} s, "
              "instance pairing, monitor on)\n")
        print(to_markdown(rows, f"folds {args.folds} of the {args.preset} preset"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--folds", type=int, nargs="+", default=[1])
    parser.add_argument("--weight", type=float, default=0.3)
    parser.add_argument("--kinds", nargs="+", default=list(DISCRIMINATORS))
    parser.add_argument("--part", nargs="+", choices=("steps", "tables"),
                        default=["steps", "tables"])
    parser.add_argument("--epochs", type=int, default=6, help="of the steps part")
    parser.add_argument("--json", help="write the steps part's numbers here")
    args = parser.parse_args()
    config = get_preset(args.preset)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"average {os.getloadavg()[0]:.1f} (others' jobs slow it down), preset {args.preset}, "
          f"folds {args.folds}, weight {args.weight:g}")
    if "steps" in args.part:
        steps = steps_part(config, args)
        if args.json:
            Path(args.json).write_text(json.dumps({"weight": args.weight, "epochs": args.epochs,
                                                   "fold": args.folds[0], "kinds": steps},
                                                  indent=1))
    if "tables" in args.part:
        tables_part(config, args)


if __name__ == "__main__":
    main()
