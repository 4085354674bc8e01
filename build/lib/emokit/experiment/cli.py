"""The command line: ``python -m emokit.experiment --preset quick`` (also ``emokit-experiment``).

    python -m emokit.experiment --preset quick            # the built-in mini corpus, minutes on CPU
    python -m emokit.experiment --preset full --results /content/drive/MyDrive/emokit
    python -m emokit.experiment --preset paper --config my_overrides.yaml
    python -m emokit.experiment --preset paper --jobs 4     # 4 runs at once (emokit.experiment.dispatch)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emokit.config import ExperimentConfig
from emokit.evaluation.runstore import experiment_dir
from emokit.experiment.runner import run_experiment


def load_config(preset: str, config_file: str | None = None, results: str | None = None,
                name: str | None = None) -> ExperimentConfig:
    """The preset's config, with a YAML file's settings and ``--results``/``--name`` on top, then
    the GPU settings where TensorFlow sees a GPU and ``train.accelerator`` is ``auto`` (so a
    file's ``train: {accelerator: off}`` keeps them away; :mod:`emokit.config.accelerator`)."""
    from emokit.config.accelerator import use_accelerator
    from emokit.config.presets import preset_config

    config = preset_config(preset)
    if config_file:
        from emokit.config.settings_file import read_settings

        overrides = read_settings(config_file)
        config = ExperimentConfig.from_dict(_deep_update(config.to_dict(), overrides),
                                            source=config_file)
        if "name" not in overrides and name is None:
            config.name = Path(config_file).stem
    if results:
        config.results_dir = results
    if name:
        config.name = name
    return use_accelerator(config)


def _deep_update(base: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


def main(argv: list[str] | None = None) -> int:
    """The command line; a user error prints ``error: ...`` without a traceback and returns 2
    (usage or config) or 1 (data): see :func:`emokit.core.cli.run_cli`."""
    from emokit.core.cli import run_cli

    return run_cli(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    from emokit.config.presets import PRESETS

    parser = argparse.ArgumentParser(
        prog="emokit-experiment", description="Train and test every system on every fold and "
        "seed (resumable), then print the WA/UA table with paired tests against the baseline.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                        help="starting config (default: quick)")
    parser.add_argument("--config", help="a YAML file whose settings override the preset's")
    parser.add_argument("--results", help="results folder (default: emokit.core.paths.results_dir())")
    parser.add_argument("--name", help="experiment name: results go to <results>/<name>/")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="runs at once, each in its own process (ExperimentConfig.jobs; "
                        "default: the config's, 1)")
    args = parser.parse_args(argv)
    config = load_config(args.preset, args.config, args.results, args.name)
    if args.jobs is not None:
        config.jobs = args.jobs
    start = time.perf_counter()
    run_experiment(config)
    print(f"results: {experiment_dir(config)} ({time.perf_counter() - start:.0f} s)")
    return 0
