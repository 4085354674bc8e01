"""Checking a whole config before any work: types from the dataclass tree, ranges from one table.

:func:`build_config` turns a nested dict (a YAML file, a preset's ``to_dict()``) into an
:class:`emokit.config.ExperimentConfig`, or raises one :class:`emokit.core.errors.ConfigError`
listing *every* problem, each with the setting's full dotted name and what is allowed::

    2 problem(s) in the config:
      train.epochs: 0 is not allowed; allowed: a whole number >= 1
      pipeline.batch_size: expected a whole number (int), got 'big' (str)

Types come from the dataclass annotations (``int``, ``float``, ``str``, ``bool``, ``X | None``,
``list[X]``, nested dataclasses; :mod:`emokit.config.coercion`), so a new setting is type-checked
without a line here. YAML reads ``1e-3`` as a string: numeric strings (and whole numbers) are
accepted for ``float`` settings. Ranges and choices live in :data:`emokit.config.rules.RULES`,
keyed by dotted name; settings that contradict each other in :mod:`emokit.config.cross_checks`.
:func:`validate_config` checks a config built in Python (``ExperimentConfig(...)``,
``dataclasses.replace``) the same way. A settings file is read by
:func:`emokit.config.settings_file.read_settings`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Hashable
from typing import Any

from emokit.config.coercion import build_typed
from emokit.config.cross_checks import cross_problems
from emokit.config.quoting import quote
from emokit.config.rules import RULES
from emokit.core.errors import ConfigError

# ------------------------------------------------------------------------------------- entry points


def build_config(cls, data: Any, source: str = "the config"):
    """``cls`` (a config dataclass) from nested dict ``data``, every setting checked first.

    Raises :class:`ConfigError` listing every problem (unknown names, wrong types, values out of
    range, settings that contradict each other), each with its full dotted name.
    """
    problems: list[str] = []
    config = build_typed(cls, data, "", problems)
    if config is not None:
        problems += value_problems(config)
        if not problems and all(hasattr(config, p.split(".")[0]) for p in PATH_SETTINGS):
            expand_user_paths(config)
    if problems:
        raise ConfigError(problems, source)
    return config


def validate_config(config, source: str = "the config") -> None:
    """Check a config built in Python the same way as one read from a file; a leading ``~`` in
    its path settings is then expanded in place."""
    build_config(type(config), dataclasses.asdict(config), source)
    if all(hasattr(config, p.split(".")[0]) for p in PATH_SETTINGS):
        expand_user_paths(config)


# ------------------------------------------------------------------------------------- values


def value_problems(config) -> list[str]:
    """Problems with the values of an already typed config: :data:`emokit.config.rules.RULES`,
    then settings that contradict each other."""
    problems = []
    values = dict(_flatten(config))
    for name, rule in RULES.items():
        if name not in values:
            continue
        value = values[name]
        whole = isinstance(value, int) or (isinstance(value, list) and
                                           all(isinstance(v, int) for v in value))
        if isinstance(value, list):
            if rule.nonempty and not value:
                problems.append(f"{name}: an empty list runs nothing; give at least one value "
                                f"({rule.allowed(whole)}) or leave the setting out")
            bad = [v for v in value if not rule.admits(v)]
            if bad:
                problems.append(f"{name}: {quote(bad)} not allowed; allowed: "
                                f"{rule.allowed(whole)}")
            counts = Counter(v for v in value if isinstance(v, Hashable))
            repeated = sorted(quote(v) for v, n in counts.items() if n > 1)
            if rule.unique and repeated:
                problems.append(f"{name}: {', '.join(repeated[:5])} given more than once; each "
                                "value would run again into the same results folder: list it once")
        elif not rule.admits(value):
            problems.append(f"{name}: {quote(value)} is not allowed; allowed: "
                            f"{rule.allowed(whole)}")
    failed = {p.split(":")[0] for p in problems}  # a cross check needs values that passed
    return problems + cross_problems({k: None if k in failed else v for k, v in values.items()})


def _flatten(config, prefix: str = ""):
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            yield from _flatten(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value


#: Settings that hold a path a user writes: ``~`` is expanded in them.
PATH_SETTINGS = ("corpus.root", "corpus.data_dir", "text.vectors_path", "train.checkpoint_dir",
                 "features.hub_preset", "text.hub_preset",
                 "train.tensorboard_dir", "results_dir")


def expand_user_paths(config) -> None:
    """Expand a leading ``~`` in every setting of :data:`PATH_SETTINGS` of ``config`` in place."""
    import os

    for dotted in PATH_SETTINGS:
        *parents, leaf = dotted.split(".")
        owner = config
        for part in parents:
            owner = getattr(owner, part)
        value = getattr(owner, leaf)
        if isinstance(value, str) and value.startswith("~"):
            setattr(owner, leaf, os.path.expanduser(value))
