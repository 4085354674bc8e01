"""Settings that are each fine but contradict another one, the ``systems`` list included.

:func:`cross_problems` takes the flat ``{dotted name: value}`` of a typed config (a value that
already failed its own rule is ``None``) and lists the contradictions: frequency and frame limits
that cross, folds a protocol does not have, convex weights >= 1, system names that cannot be parsed
or disagree with ``init_from`` or ``model.objective``, a run name that leaves the results folder,
and settings that ``systems`` would overwrite.
"""

from __future__ import annotations

from pathlib import Path

from emokit.config.quoting import cap, quote

IEMOCAP_SESSIONS = 5  # folds per protocol: 5 sessions, 10 speakers
FOLDS_PER_PROTOCOL = {"session": IEMOCAP_SESSIONS, "speaker": 2 * IEMOCAP_SESSIONS}

#: The built-in corpus's generator knobs: they shape only the synthetic corpus, so a release given
#: by ``corpus.root`` leaves them without effect. (``synthetic_size`` is left out: presets choose
#: it; ``synthetic_seed`` also fixes the per-fold label views, :mod:`emokit.data.label_views`.)
#: With their CorpusConfig defaults (settings.py imports this stage: no import back).
GENERATOR_KNOBS = {"text_disagreement": 0.2, "audio_ambiguity": 0.3, "snr_db": 20.0,
                   "cue_probability": 0.7, "scripted_share": None, "lexical_voice": False,
                   "length_decorrelation": 0.0, "independent_voice": False}

#: Settings that ``systems`` decides for every run: a value set in a config would be overwritten.
DECIDED_BY_SYSTEMS = {"model.modalities": "both", "model.contrastive_weight": 0.0}


def cross_problems(values: dict) -> list[str]:
    """Settings that are each fine but contradict another one."""
    problems = []

    def get(name):
        return values.get(name)

    if _numbers(get("features.fmin_hz"), get("features.fmax_hz")) and \
            get("features.fmax_hz") <= get("features.fmin_hz"):
        problems.append(f"features.fmax_hz: {get('features.fmax_hz')!r} must be above "
                        f"features.fmin_hz ({get('features.fmin_hz')!r})")
    if _numbers(get("features.fmax_hz"), get("features.sample_rate")) and \
            get("features.fmax_hz") * 2 > get("features.sample_rate"):
        problems.append(f"features.fmax_hz: {get('features.fmax_hz')!r} is above the Nyquist "
                        f"frequency of features.sample_rate {get('features.sample_rate')!r}")
    if _numbers(get("features.hop_ms"), get("features.win_ms")) and \
            get("features.win_ms") < get("features.hop_ms"):
        problems.append(f"features.win_ms: {get('features.win_ms')!r} is shorter than "
                        f"features.hop_ms ({get('features.hop_ms')!r}): frames would skip audio")
    if _numbers(get("features.n_mfcc"), get("features.n_mels")) and \
            get("features.n_mfcc") > get("features.n_mels"):
        problems.append(f"features.n_mfcc: {get('features.n_mfcc')!r} is more than "
                        f"features.n_mels ({get('features.n_mels')!r})")
    folds, protocol = get("folds"), get("protocol")
    if isinstance(folds, list) and protocol in FOLDS_PER_PROTOCOL:
        count = FOLDS_PER_PROTOCOL[protocol]
        bad = [k for k in folds if isinstance(k, int) and k > count]
        if bad:
            problems.append(f"folds: {bad} out of range; protocol {protocol!r} has folds "
                            f"1..{count}")
    weights = get("contrastive_weights")
    if get("model.objective") == "convex" and isinstance(weights, list):
        bad = [w for w in weights if _numbers(w) and w >= 1]
        if bad:
            problems.append(f"contrastive_weights: {bad} must be below 1 with model.objective "
                            "'convex', where each weight is alpha of (1 - alpha) CE + alpha L")
    if _numbers(get("pipeline.bucket_width"), get("pipeline.max_frames")) and \
            get("pipeline.bucket_width") > get("pipeline.max_frames"):
        problems.append(f"pipeline.bucket_width: {get('pipeline.bucket_width')!r} is more than "
                        f"pipeline.max_frames ({get('pipeline.max_frames')!r}): no utterance is "
                        "that long; use at most max_frames")
    if get("train.unlabelled_pairs") is True and get("model.pairing") == "label":
        problems.append("train.unlabelled_pairs: true needs model.pairing 'instance': label "
                        "pairing reads the emotion labels that unlabelled turns do not have")
    problems += _hub_problems(values)
    problems += _no_op_problems(values)
    problems += _system_problems(get("systems"), get("init_from"), get("model.objective"))
    name = get("name")
    if isinstance(name, str) and not _inside(name):
        problems.append(f"name: {quote(name)} would write outside the results folder; use a "
                        "relative name without '..' (sub/folders are fine)")
    if "systems" in values:
        for name, default in DECIDED_BY_SYSTEMS.items():
            if name in values and values[name] != default:
                problems.append(
                    f"{name}: {quote(values[name])} would be overwritten by each entry of "
                    f"`systems` ({quote(values['systems'])}), which decides it for every run; "
                    f"remove {name} from the config and choose the runs with `systems` (audio, "
                    "text, baseline, contrastive-<discriminator>-<weight>)")
    return problems


def _hub_problems(values: dict) -> list[str]:
    """The pretrained-encoder settings (emokit.data.hub_encoders) that need another one."""
    problems = []
    get = values.get
    if get("features.kind") == "hub" and not get("features.hub_preset"):
        problems.append("features.kind: 'hub' needs features.hub_preset: a Keras Hub Whisper "
                        "preset (whisper_base_en) or a local preset folder")
    if get("features.hub_preset") and get("features.kind") not in ("hub", None):
        problems.append(f"features.hub_preset: {quote(get('features.hub_preset'))} is read only "
                        f"with features.kind 'hub' (it is {quote(get('features.kind'))}); set "
                        "features.kind: hub, or remove features.hub_preset")
    if get("features.hub_layers") == "weighted" and get("features.kind") not in ("hub", None):
        problems.append(f"features.hub_layers: 'weighted' is read only with features.kind 'hub' "
                        f"(it is {quote(get('features.kind'))}); set features.kind: hub, or "
                        "remove features.hub_layers")
    if get("features.hub_layers") == "weighted" and get("features.hub_layer") not in (-1, None):
        problems.append(f"features.hub_layer: {get('features.hub_layer')} is not read with "
                        "features.hub_layers 'weighted' (every layer is cached and weighted); "
                        "remove features.hub_layer, or set features.hub_layers: one")
    if get("text.hub_preset") and get("model.train_embeddings") is True:
        problems.append(f"text.hub_preset: {quote(get('text.hub_preset'))} gives frozen codes of "
                        "a pretrained encoder and needs model.train_embeddings: false")
    return problems


def _no_op_problems(values: dict) -> list[str]:
    """Settings that would do nothing in their context, each named with the setting it needs."""
    problems = []
    get = values.get
    if get("warm_start_classifier") == "reinit" and get("init_from") is None:
        problems.append("warm_start_classifier: 'reinit' chooses what a warm start takes from the "
                        "trained baseline and needs init_from: baseline (init_from is unset, so "
                        "no run is warm-started); set init_from: baseline, or "
                        "warm_start_classifier: copy (the default)")
    if get("train.monitor") is False and _numbers(get("train.probe_every")) and \
            get("train.probe_every") != 1:
        problems.append(f"train.probe_every: {get('train.probe_every')!r} spaces the linear "
                        "probes of train.monitor, which is false (no probe runs); set "
                        "train.probe_every: 1 (the default), or train.monitor: true")
    if get("corpus.root"):
        for knob, default in GENERATOR_KNOBS.items():
            name = f"corpus.{knob}"
            if name in values and values[name] != default:
                problems.append(f"{name}: {quote(values[name])} shapes only the built-in corpus, "
                                f"and corpus.root ({quote(get('corpus.root'))}) reads a release "
                                f"instead; remove {name}, or corpus.root to use the built-in "
                                "corpus")
    systems = get("systems")
    if get("train.unlabelled_pairs") is True and isinstance(systems, list) and \
            all(isinstance(s, str) for s in systems) and not _any_pair_loss(systems):
        problems.append(f"train.unlabelled_pairs: true feeds the pair loss, but systems "
                        f"{quote(systems)} has no contrastive system; add one (e.g. "
                        "'contrastive') or remove train.unlabelled_pairs")
    return problems


def _any_pair_loss(systems: list[str]) -> bool:
    """True when an entry of ``systems`` trains with a pair loss (weight > 0); an entry that
    cannot be parsed counts (its own problem is reported)."""
    from emokit.config.systems import parse_system

    for entry in systems:
        if entry == "contrastive" or entry.startswith("contrastive-") and entry.count("-") == 1:
            return True
        try:
            if parse_system(entry).contrastive_weight > 0:
                return True
        except ValueError:
            return True
    return False


def _numbers(*values) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _system_problems(systems, init_from, objective) -> list[str]:
    """System names that cannot be parsed, or that contradict ``init_from`` or
    ``model.objective``."""
    if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems):
        return []
    from emokit.config.systems import ALPHA_PREFIX, CONTROL, parse_system

    problems = []
    parsed = []
    for entry in systems:
        if entry == "contrastive" or entry.count("-") == 1 and entry.startswith("contrastive-"):
            parsed.append(("shorthand", entry))
            continue
        try:
            parsed.append((parse_system(entry), entry))
        except ValueError as e:
            problems.append(f"systems: {cap(str(e))}")
    if CONTROL in systems and init_from != "baseline":
        problems.append(f"systems: {CONTROL!r} is the control of warm-started systems and needs "
                        f"init_from: baseline (init_from is {init_from!r}); set it, or remove "
                        f"{CONTROL!r}")
    regularized = [e for s, e in parsed if s == "shorthand" or s.contrastive_weight > 0]
    if init_from == "baseline" and not regularized:
        problems.append(f"init_from: 'baseline' warm-starts the contrastive systems, but systems "
                        f"{quote(systems)} has none; add one (e.g. 'contrastive') or remove "
                        "init_from")
    for system, entry in parsed:
        if system == "shorthand" or system.contrastive_weight == 0 or \
                objective not in ("sum", "convex") or system.objective == objective:
            continue
        written = (f"alpha, the '{ALPHA_PREFIX}' prefix" if system.objective == "convex"
                   else "lambda, no 'alpha' prefix")
        problems.append(f"systems: {entry!r} names its weight as {written} (objective "
                        f"{system.objective!r}), but model.objective is {objective!r}; write the "
                        "weight the way the objective reads it, or change model.objective")
    return problems


def _inside(name: str) -> bool:
    """True when ``name`` is a relative path that stays inside the folder it is joined to."""
    path = Path(name)
    return bool(name.strip()) and not path.is_absolute() and not name.startswith("~") and \
        ".." not in path.parts
