"""Config validation (emokit.config.validation): every problem at once, by full dotted name."""

import dataclasses
import types
import typing

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from emokit.config import ExperimentConfig
from emokit.config.presets import PRESETS, get_preset


def problems_of(data: dict) -> list[str]:
    """The problems listed by the ``ConfigError`` (a ``ValueError``) that ``data`` raises."""
    with pytest.raises(ValueError) as err:
        ExperimentConfig.from_dict(data)
    assert type(err.value).__name__ == "ConfigError", err.value
    return err.value.problems


def test_presets_and_defaults_are_valid():
    for name in PRESETS:
        config = get_preset(name)
        assert ExperimentConfig.from_dict(config.to_dict()) == config
    assert ExperimentConfig.from_dict({}) == ExperimentConfig()


def test_every_problem_is_reported_at_once_with_its_full_name():
    problems = problems_of({
        "train": {"epochs": 0, "learning_rate": "fast", "lr_decay": 1.5},
        "pipeline": {"batch_size": -4, "max_frmes": 300},
        "model": {"dropout": 1.0},
        "folds": [],
        "seeds": 3,
        "features": {"kind": "wav"},
    })
    named = {p.split(":")[0] for p in problems}
    assert named == {"train.epochs", "train.learning_rate", "train.lr_decay",
                     "pipeline.batch_size", "pipeline.max_frmes", "model.dropout", "folds",
                     "seeds", "features.kind"}
    text = "\n".join(problems)
    assert "train.epochs: 0 is not allowed; allowed: a whole number >= 1" in text
    assert "pipeline.max_frmes: unknown setting; did you mean pipeline.max_frames?" in text
    assert "seeds: expected a list of whole numbers, got 3 (int); write [3]" in text
    assert "features.kind: 'wav' is not allowed; allowed: one of ['mfcc', 'logmel', 'hub']" in text
    assert "folds: an empty list runs nothing" in text


def test_yaml_numbers_in_e_notation_are_accepted_for_floats(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1e-3\n  clipnorm: 5\n")
    assert yaml.safe_load(path.read_text())["train"]["learning_rate"] == "1e-3"  # YAML 1.1
    config = ExperimentConfig.load(path)
    assert config.train.learning_rate == 0.001 and isinstance(config.train.clipnorm, float)


@pytest.mark.parametrize("data, name", [
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"folds": []}, "folds"),
    ({"folds": [0]}, "folds"),
    ({"folds": [6]}, "folds"),
    ({"pipeline": {"max_frames": -1}}, "pipeline.max_frames"),
    ({"model": {"latent_dim": 0}}, "model.latent_dim"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate"),
    ({"corpus": {"text_disagreement": 1.2}}, "corpus.text_disagreement"),
    ({"train": {"epochs": "ten"}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"deterministic": "yes"}}, "train.deterministic"),
    ({"seeds": 0}, "seeds"),
    ({"systems": "baseline"}, "systems"),
    ({"systems": []}, "systems"),
    ({"model": {"modalities": "audio"}}, "model.modalities"),
    ({"model": {"contrastive_weight": 0.5}}, "model.contrastive_weight"),
    ({"train": 5}, "train"),
    ({"features": {"fmin_hz": 500.0}}, "features.fmax_hz"),
    ({"train": {"learning_rate": float("nan")}}, "train.learning_rate"),
])
def test_bad_settings_are_refused_by_name(data, name):
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == [name], problems


def test_a_setting_the_systems_list_decides_is_refused_with_the_fix():
    (problem,) = problems_of({"model": {"modalities": "text"}, "systems": ["baseline"]})
    assert "overwritten by each entry of `systems`" in problem and "remove model.modalities" \
        in problem


def test_load_names_the_file_for_bad_yaml(tmp_path):
    ConfigError = ValueError
    path = tmp_path / "broken.yaml"
    path.write_text("train:\n  epochs: [1\n")
    with pytest.raises(ConfigError, match=r"(?s)broken\.yaml.*not valid YAML"):
        ExperimentConfig.load(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of settings"):
        ExperimentConfig.load(path)


def test_a_config_built_in_python_is_checked_by_validate_config():
    from emokit.config.validation import validate_config
    from emokit.core.errors import ConfigError

    config = ExperimentConfig()
    config.train.epochs = 0
    with pytest.raises(ConfigError, match="train.epochs"):
        validate_config(config)


# ------------------------------------------------------------------------------- property-based


def _leaves(cls, prefix=""):
    """``(dotted name, type)`` of every setting of the dataclass tree."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _leaves(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", tp


LEAVES = dict(_leaves(ExperimentConfig))


def _nest(name: str, value) -> dict:
    *parents, leaf = name.split(".")
    data = {leaf: value}
    for part in reversed(parents):
        data = {part: data}
    return data


def _wrong_type_values(tp):
    """Values that no setting of type ``tp`` accepts."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    base = tp
    if typing.get_origin(base) is list:
        return st.sampled_from([{"a": 1}, "text", 7, [{"a": 1}]])
    if typing.get_origin(base) is dict:
        return st.sampled_from(["text", 7, [1]])
    if typing.get_origin(base) is typing.Literal:
        return st.just("not-one-of-the-choices")
    return {
        bool: st.sampled_from([1, 0, "yes", 2.5, [True]]),
        int: st.one_of(st.text(st.characters(categories=["L"]), min_size=1), st.just(2.5),
                       st.just(True), st.lists(st.integers(), min_size=1)),
        float: st.one_of(st.text(st.characters(categories=["L"]), min_size=1), st.just(True),
                         st.just([1.0]), st.just(float("inf"))),
        str: st.one_of(st.integers(), st.floats(allow_nan=False), st.just(["a"]),
                       st.just({"a": 1})),
    }.get(base, st.just({"not": "a setting value"}))


@st.composite
def broken_configs(draw):
    """A config dict with 1-4 settings of the wrong type; returns (data, the names broken)."""
    names = draw(st.lists(st.sampled_from(sorted(LEAVES)), min_size=1, max_size=4, unique=True))
    data: dict = {}
    for name in names:
        value = draw(_wrong_type_values(LEAVES[name]))
        _merge(data, _nest(name, value))
    return data, set(names)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@settings(max_examples=150, deadline=None)
@given(broken_configs())
def test_every_wrongly_typed_setting_is_named_once_property(case):
    data, names = case
    problems = problems_of(data)
    reported = {p.split(":")[0].split("[")[0] for p in problems}
    assert reported == names, (data, problems)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(n for n, t in LEAVES.items() if t is float)),
       value=st.floats(-1e6, 1e6, allow_nan=False), as_text=st.booleans())
def test_float_settings_take_numbers_and_numeric_strings_alike_property(name, value, as_text):
    """A number and its text form give the same answer: both accepted (and equal), or both
    refused with the same problem."""
    answers = []
    for given_value in (value, repr(value) if as_text else f" {value!r} "):
        try:
            config = ExperimentConfig.from_dict(_nest(name, given_value))
        except ValueError as e:
            answers.append(("refused", [p.replace(repr(given_value), "V").replace(
                repr(float(given_value)), "V") for p in e.problems]))
        else:
            leaf = config
            for part in name.split("."):
                leaf = getattr(leaf, part)
            answers.append(("accepted", leaf))
    assert answers[0][0] == answers[1][0]
    if answers[0][0] == "accepted":
        assert answers[0][1] == answers[1][1] == value


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(n for n, t in LEAVES.items() if t is int)),
       value=st.integers(-10**6, 10**6))
def test_integer_ranges_property(name, value):
    """Whole numbers are accepted exactly when the rule admits them, and refused by name."""
    from emokit.config.rules import RULES

    rule = RULES.get(name)
    try:
        config = ExperimentConfig.from_dict(_nest(name, value))
    except ValueError as e:
        assert rule is not None and not rule.admits(value) or any(
            p.startswith(("features.", "folds", "pipeline.")) for p in e.problems), e.problems
        assert any(p.startswith(name) or name in p or "features." in p for p in e.problems)
    else:
        assert rule is None or rule.admits(value)
        assert ExperimentConfig.from_dict(config.to_dict()) == config


# ------------------------------------------------- issue 16: values that passed, then failed late


@pytest.mark.parametrize("data, named", [
    ({"features": {"hop_ms": 0.01}}, ["features.hop_ms"]),
    ({"features": {"fmin_hz": 0.01}}, ["features.fmin_hz"]),
    ({"pipeline": {"max_frames": 10**8}}, ["pipeline.max_frames"]),
    ({"pipeline": {"bucket_width": 10**9}}, ["pipeline.bucket_width"]),
    ({"pipeline": {"max_words": 10**9}}, ["pipeline.max_words"]),
    ({"model": {"temperature": 1e-30}}, ["model.temperature"]),
    ({"seeds": [0, 0]}, ["seeds"]),
    ({"pipeline": {"bucket_width": 800}}, ["pipeline.bucket_width", "pipeline.max_frames"]),
    ({"systems": ["baseline-continued"]}, ["systems", "init_from"]),
    ({"systems": ["baseline"], "init_from": "baseline"}, ["init_from", "systems"]),
    ({"systems": ["contrastive-infonce-0.5"], "model": {"objective": "convex"}},
     ["systems", "model.objective"]),
    ({"systems": ["contrastive-infonce-alpha0.5"]}, ["systems", "model.objective"]),
    ({"systems": ["contrastive-nonsense-1"]}, ["systems"]),
    ({"name": "../elsewhere"}, ["name"]),
    ({"name": "/tmp/elsewhere"}, ["name"]),
])
def test_values_that_would_fail_late_are_refused_at_load_naming_each_setting(data, named):
    problems = problems_of(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(named[0] + ":"), problems
    assert all(name in problems[0] for name in named), problems


def test_a_key_given_twice_in_a_yaml_file_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n  seed: 1\n  epochs: 30\n")
    with pytest.raises(ValueError, match=r"'epochs' is given twice \(lines 2 and 4\)"):
        ExperimentConfig.load(path)


def test_a_yaml_alias_bomb_gives_a_short_error(tmp_path):
    """A few hundred bytes that expand to billions of values: the error quotes a capped part."""
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, "
                     f"*{prev}, *{prev}, *{prev}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nseeds: *i\nname: *i\ntrain: {epochs: *i}\n")
    with pytest.raises(ValueError) as err:
        ExperimentConfig.load(path)
    assert len(str(err.value)) < 10_000, len(str(err.value))  # 722 MB before
    assert "seeds[0]" in str(err.value) and "train.epochs" in str(err.value)


def test_a_tilde_in_a_path_setting_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = ExperimentConfig.from_dict({"results_dir": "~/runs", "corpus": {"data_dir": "~/d"}})
    assert config.results_dir == str(tmp_path / "runs")
    assert config.corpus.data_dir == str(tmp_path / "d")


def _numeric_settings(cls=ExperimentConfig, prefix=""):
    """Dotted names of every int/float setting of the config tree (``float | None`` and lists of
    numbers included; bool is not a number here)."""
    for field in dataclasses.fields(cls):
        kind = typing.get_type_hints(cls)[field.name]
        name = prefix + field.name
        if dataclasses.is_dataclass(kind):
            yield from _numeric_settings(kind, name + ".")
            continue
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        if typing.get_origin(kind) is list:
            (kind,) = typing.get_args(kind)
        if kind in (int, float):
            yield name


def test_every_numeric_setting_has_a_finite_upper_bound():
    import math

    from emokit.config.rules import RULES

    names = list(_numeric_settings())
    assert {"model.aux_heads_weight", "model.temperature", "seeds", "jobs"} <= set(names)
    unbounded = [n for n in names
                 if n not in RULES or RULES[n].high is None or not math.isfinite(RULES[n].high)]
    assert unbounded == [], f"no finite upper bound in emokit.config.rules.RULES: {unbounded}"
    assert any(p.startswith("model.aux_heads_weight:")
               for p in problems_of({"model": {"aux_heads_weight": 1e300}}))


@pytest.mark.parametrize(("data", "named", "needs"), [
    ({"warm_start_classifier": "reinit"}, "warm_start_classifier", "init_from: baseline"),
    ({"train": {"monitor": False, "probe_every": 5}}, "train.probe_every", "train.monitor: true"),
    ({"corpus": {"root": "/releases/IEMOCAP", "snr_db": 5.0}}, "corpus.snr_db", "corpus.root"),
    ({"corpus": {"root": "/releases/IEMOCAP", "lexical_voice": True}}, "corpus.lexical_voice",
     "corpus.root"),
    ({"train": {"unlabelled_pairs": True}, "model": {"pairing": "instance"},
      "systems": ["audio", "baseline"]}, "train.unlabelled_pairs", "contrastive"),
])
def test_a_setting_that_does_nothing_in_its_context_is_refused(data, named, needs):
    (problem,) = problems_of(data)
    assert problem.startswith(f"{named}:") and needs in problem


def test_settings_that_take_effect_in_their_context_are_accepted():
    for data in ({"warm_start_classifier": "reinit", "init_from": "baseline"},
                 {"train": {"monitor": True, "probe_every": 5}},
                 {"corpus": {"root": "/releases/IEMOCAP", "synthetic_size": "iemocap",
                             "train_label_noise": 0.2}},
                 {"train": {"unlabelled_pairs": True}, "model": {"pairing": "instance"},
                  "systems": ["baseline", "contrastive-infonce-0.3"]}):
        ExperimentConfig.from_dict(data)


def test_the_generator_knobs_defaults_are_the_corpus_configs():
    from emokit.config import CorpusConfig
    from emokit.config.cross_checks import GENERATOR_KNOBS

    assert GENERATOR_KNOBS == {k: getattr(CorpusConfig(), k) for k in GENERATOR_KNOBS}
