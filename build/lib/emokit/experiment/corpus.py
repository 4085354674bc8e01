"""The corpus an experiment reads: built (or parsed) and its feature cache extracted if missing."""

from __future__ import annotations

import time
from pathlib import Path

from emokit.config import ExperimentConfig


def load_corpus(config: ExperimentConfig, workers: int | None = None, verbose: bool = True):
    """The corpus's labelled utterances and their raw features ``{id: (frames, dims)}``: builds
    the corpus (or parses the release) and the feature cache first if they are not there. Under
    ``train.unlabelled_pairs`` the rows outside the class set come too (``label == ""``; the
    folds leave them out, :mod:`emokit.data.label_views` gives them to the pair loss).

    ``workers``: processes that extract features (default: every core; 1 extracts in this
    process). Worker processes import the calling script again, so a script that calls
    ``load_corpus`` must do so under ``if __name__ == "__main__":`` (notebooks need nothing).
    ``verbose``: say what was loaded (and show the feature-extraction progress)."""
    from data_prep.features import build_cache
    from data_prep.synthetic import ensure_corpus, release_root
    from emokit.data.feature_cache import load_features
    from emokit.data.fold_text import CorpusFeatures
    from emokit.data.manifest import read_manifest

    check_hub(config)  # before the corpus is built: a missing keras-hub is said at once

    def say(message: str) -> None:
        if verbose:
            print(message, flush=True)

    start = time.perf_counter()
    manifest = ensure_corpus(config.corpus)
    root = Path(config.corpus.root) if config.corpus.root else release_root(manifest)
    say(f"corpus: {manifest} ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    unlabelled = config.train.unlabelled_pairs
    cache = build_cache(manifest, root, config.features, workers=workers, progress=verbose,
                        outside_class_set=unlabelled)
    utterances = [u for u in read_manifest(manifest) if u.label or (unlabelled and u.wav)]
    features = load_features(cache, [u.id for u in utterances])
    say(f"features: {len(features)} utterances from {cache} ({time.perf_counter() - start:.1f} s)")
    return utterances, CorpusFeatures(features, _text_codes(config, manifest, utterances, say,
                                                            verbose))


def _text_codes(config: ExperimentConfig, manifest, utterances, say, verbose) -> dict | None:
    """The transcripts' pretrained codes ``{id: (tokens, hidden)}`` under ``text.hub_preset``
    (cached first, :func:`data_prep.hub_codes.build_text_cache`); None without one."""
    if not config.text.hub_preset:
        return None
    from data_prep.hub_codes import build_text_cache
    from emokit.data.feature_cache import load_features

    start = time.perf_counter()
    cache = build_text_cache(manifest, config.text, progress=verbose,
                             outside_class_set=config.train.unlabelled_pairs)
    codes = load_features(cache, [u.id for u in utterances])
    say(f"text codes: {len(codes)} transcripts from {cache} ({time.perf_counter() - start:.1f} s)")
    return codes


def check_hub(config: ExperimentConfig) -> None:
    """Raise :class:`emokit.core.optional.MissingOptionalDependency` (naming the ``hub`` extra)
    when a pretrained-encoder setting is on and Keras Hub is not installed."""
    from emokit.data.hub_encoders import require_hub

    if config.features.kind == "hub":
        require_hub("features.kind 'hub'")
    if config.text.hub_preset:
        require_hub("text.hub_preset")


def experiment_folds(config: ExperimentConfig, utterances: list) -> tuple[list, list]:
    """The experiment's utterances and folds exactly as :func:`emokit.experiment.run_experiment`
    made them: ``corpus.improvised_only`` applied, then the ``protocol``'s folds with the
    pipeline's validation speakers, restricted to ``folds``. Every caller that rebuilds an
    experiment's folds (robustness, workers, benchmarks) goes through here.

    Returns ``(utterances, [(fold number, Fold)])``: the utterances to prepare those folds with.
    """
    from emokit.data.folds import make_folds
    from emokit.data.overlap import improvised_only
    from emokit.experiment.protocol import select_folds

    utterances = improvised_only(utterances, config.corpus)
    folds = make_folds(utterances, config.protocol, config.pipeline.validation_speakers)
    return utterances, select_folds(folds, config.folds)
