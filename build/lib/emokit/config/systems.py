"""The systems an experiment compares, and their names.

A *system* is one trainable configuration. Its name says everything that differs between systems:

- ``audio``, ``text``: one encoder and the classifier;
- ``baseline``: both encoders, concatenation, no pair loss;
- ``contrastive-<discriminator>-<weight>``: the baseline plus the pair loss, e.g.
  ``contrastive-infonce-0.5``. The weight is lambda of ``CE + lambda L`` (``objective: sum``) or,
  written ``alpha0.1``, alpha of the paper's ``(1 - alpha) CE + alpha L`` (``objective: convex``);
- ``baseline-continued``: the control of warm-started systems (``init_from: baseline``): the
  trained baseline trained on under the same budget and stopping rule with the pair loss off;
- ``contrastive-<discriminator>-selected``: not trained but derived, where one kind runs at
  several weights: per fold and seed, the weight with the best validation UA (:mod:`emokit.evaluation.selection`).

With ``ExperimentConfig.init_from == "baseline"`` every contrastive system starts from the trained
baseline of its fold and seed, and ``baseline-continued`` is added: continuing to train helps on
its own, so a warm-started system must beat *that*, not the baseline, to show the pair loss helps.

>>> parse_system("contrastive-infonce-alpha0.1")
System(name='contrastive-infonce-alpha0.1', modalities='both', contrastive_weight=0.1, \
discriminator='infonce', objective='convex', warm_start=False)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emokit.config.choices import DISCRIMINATORS, RENAMED_DISCRIMINATORS

if TYPE_CHECKING:  # annotations only: the settings import their validation, which imports this
    from emokit.config.settings import ExperimentConfig

BASELINE = "baseline"
CONTROL = "baseline-continued"
UNIMODAL = ("audio", "text")
ALPHA_PREFIX = "alpha"


@dataclass(frozen=True)
class System:
    """One trainable configuration: modalities, the pair loss (weight, discriminator, objective)
    and whether it starts from the trained baseline."""

    name: str
    modalities: str  # "both", "audio" or "text"
    contrastive_weight: float = 0.0
    discriminator: str | None = None  # one of emokit.config.DISCRIMINATORS when weight > 0
    objective: str = "sum"  # "sum": CE + lambda L; "convex": (1 - alpha) CE + alpha L
    warm_start: bool = False  # starts from the trained baseline of its fold and seed


def weight_label(weight: float, objective: str) -> str:
    """``0.3`` (lambda) or ``alpha0.3`` (alpha), written with ``:g``."""
    return f"{ALPHA_PREFIX}{weight:g}" if objective == "convex" else f"{weight:g}"


def contrastive_name(discriminator: str, weight: float, objective: str = "sum") -> str:
    """``contrastive-<discriminator>-<weight label>``."""
    return f"contrastive-{discriminator}-{weight_label(weight, objective)}"


SELECTED_SUFFIX = "selected"  # contrastive-<kind>-selected: a weight chosen on validation


def selected_name(discriminator: str) -> str:
    """``contrastive-<discriminator>-selected``: the system that picks, per fold and seed, the
    weight with the best validation UA among that kind's runs (see :mod:`emokit.evaluation.selection`)."""
    return f"contrastive-{discriminator}-{SELECTED_SUFFIX}"


def is_selected(name: str) -> bool:
    """True for a ``-selected`` system's name (derived from other runs, never trained)."""
    return name.startswith("contrastive-") and name.endswith(f"-{SELECTED_SUFFIX}")


def weight_groups(systems: list[System]) -> dict[str, list[System]]:
    """``{selected system name: [its candidates]}`` for each pair-loss kind run at two or more
    weights, candidates in ``systems`` order."""
    groups: dict[str, list[System]] = {}
    for system in systems:
        if system.contrastive_weight > 0:
            groups.setdefault(selected_name(system.discriminator), []).append(system)
    return {name: members for name, members in groups.items() if len(members) >= 2}


def _known_forms() -> str:
    kinds = "|".join(DISCRIMINATORS)
    return (f"use 'audio', 'text', 'baseline', '{CONTROL}', 'contrastive', 'contrastive-<{kinds}>' "
            f"or 'contrastive-<{kinds}>-<weight>' (lambda, e.g. 'contrastive-infonce-0.5', or "
            f"alpha of the paper's objective, e.g. 'contrastive-infonce-alpha0.1')")


def parse_system(name: str, warm_start: bool = False) -> System:
    """The :class:`System` a fully written name stands for. ``warm_start`` marks contrastive
    systems as starting from the baseline (``baseline-continued`` always does)."""
    if name in UNIMODAL:
        return System(name, name)
    if name == BASELINE:
        return System(name, "both")
    if name == CONTROL:
        return System(name, "both", warm_start=True)
    parts = name.split("-", 2)
    if len(parts) >= 2 and parts[0] == "contrastive" and parts[1] in RENAMED_DISCRIMINATORS:
        raise ValueError(f"system {name!r}: {RENAMED_DISCRIMINATORS[parts[1]]}")
    if len(parts) == 3 and parts[0] == "contrastive":
        kind, label = parts[1], parts[2]
        objective = "convex" if label.startswith(ALPHA_PREFIX) else "sum"
        try:
            weight = float(label.removeprefix(ALPHA_PREFIX))
        except ValueError:
            weight = -1.0
        valid = 0 < weight < 1 if objective == "convex" else weight > 0
        if kind in DISCRIMINATORS and valid:
            return System(contrastive_name(kind, weight, objective), "both", weight, kind,
                          objective, warm_start)
    raise ValueError(f"unknown system {name!r}: {_known_forms()} (alpha must be in (0, 1), "
                     "lambda > 0)")


def expand_systems(config: ExperimentConfig) -> list[System]:
    """``config.systems`` with the shorthands expanded over ``config.contrastive_weights``
    (written as lambdas or alphas after ``config.model.objective``). With ``init_from:
    baseline``, ``baseline`` and ``baseline-continued`` are added if missing, the baseline
    first: the warm-started systems need it."""
    warm = config.init_from == BASELINE
    objective = config.model.objective
    systems: dict[str, System] = {}
    for entry in config.systems:
        if entry == "contrastive":
            entry = f"contrastive-{config.model.discriminator}"
        if entry in (f"contrastive-{d}" for d in DISCRIMINATORS):
            if not config.contrastive_weights:
                raise ValueError(f"system {entry!r} needs ExperimentConfig.contrastive_weights")
            names = [f"{entry}-{weight_label(w, objective)}" for w in config.contrastive_weights]
        else:
            names = [entry]
        for name in names:
            system = parse_system(name, warm_start=warm)
            systems.setdefault(system.name, system)
    if not systems:
        raise ValueError("ExperimentConfig.systems is empty")
    if warm and any(s.contrastive_weight > 0 for s in systems.values()):
        systems.setdefault(CONTROL, parse_system(CONTROL))
        systems = {BASELINE: parse_system(BASELINE), **systems}  # trained before warm starts
    return list(systems.values())


def system_config(config: ExperimentConfig, system: System) -> ExperimentConfig:
    """A copy of ``config`` whose ``model`` settings are those of ``system``."""
    model = dataclasses.replace(
        config.model, modalities=system.modalities, contrastive_weight=system.contrastive_weight,
        discriminator=system.discriminator or config.model.discriminator,
        objective=system.objective)
    return dataclasses.replace(config, model=model)


def describe_objective(system: System, pair_loss_scaling: str = "none") -> str:
    """``CE + 0.5 L (infonce)``, ``0.9 CE + 0.1 L (infonce)``, ``CE``; then ``, grad-ratio
    scaled`` and ``, from the trained baseline`` where they apply."""
    if system.contrastive_weight == 0:
        text = "CE"
    elif system.objective == "convex":
        w = system.contrastive_weight
        text = f"{1 - w:g} CE + {w:g} L ({system.discriminator})"
    else:
        text = f"CE + {system.contrastive_weight:g} L ({system.discriminator})"
    if system.contrastive_weight > 0 and pair_loss_scaling == "grad_ratio":
        text += ", grad-ratio scaled"
    return text + (", from the trained baseline" if system.warm_start else "")
