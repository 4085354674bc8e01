"""Runs in one process compile once per architecture (issue #30), leave nothing else behind
(issue #20), compute the same numbers, and print no retracing warning.

Five tiny runs of ``emokit.experiment.runs.train_and_evaluate`` (what ``run_experiment``, the
notebooks and robustness call), one process, monitoring on: a baseline, a contrastive run
(grad-ratio scaled) warm-started from it, a unimodal run, then the first two again. The repeats
reuse the kept model and compiled functions of their architecture: they may add no live
TensorFlow function and no memory, and must give exactly the numbers of the same runs built
fresh (the first two: a run after three other runs equals the same run alone, to the last bit).
A user's own ``fit`` on models built fresh each time keeps nothing once the model is dropped.
TensorFlow must not warn that emokit's functions "triggered tf.function retracing".
"""

import dataclasses
import gc
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_dataset, fake_examples

from emokit.config import PipelineConfig

# Resident memory (after malloc_trim) per run from the 2nd to the 5th run of this module's
# fixture. Measured (pinned stack, loaded 2-core machine): with the fix of issue #20, 625 ->
# 627 MB, 0.7 MB per run; before it, about 100 MB per run with these tiny models (and 25 more
# live TensorFlow functions after every run).
MAX_GROWTH_PER_RUN_MB = 10


def _rss_mb() -> float:
    """Resident memory in MB once the C allocator has given its free pages back (glibc): what the
    process still holds, not the high-water mark of the last run (that moved 750-1120 MB between
    these tiny runs, held memory 625-627 MB)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: plain RSS
        pass
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _live_tf_functions() -> int:
    gc.collect()
    return sum(type(o).__name__ == "AtomicFunction" for o in gc.get_objects())


def _fold():
    from emokit.data.pipeline import Examples

    train = fake_dataset(32, 8, seed=0)
    inputs, labels = fake_examples(32, seed=0)  # train's utterances, unpadded
    examples = Examples([a[m] for a, m in zip(inputs["audio"], inputs["audio_mask"])],
                        [t[m] for t, m in zip(inputs["tokens"], inputs["text_mask"])], labels)
    return SimpleNamespace(train=train, train_in_order=train, train_by_length=train,
                           train_examples=examples,
                           val=fake_dataset(16, 8, seed=1),
                           test=fake_dataset(16, 8, seed=2), feature_dim=FEATURE_DIM,
                           vocab=range(VOCAB_SIZE), num_classes=NUM_CLASSES,
                           embedding_matrix=None, test_ids=[f"u{i}" for i in range(16)],
                           pipeline=PipelineConfig(), train_dataset=lambda seed: train)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def five_runs():
    """Baseline, warm-started contrastive (grad-ratio scaled), audio, baseline, warm-started
    contrastive, monitoring on (probes, gradient ratios), in this process -> (their results,
    live TF functions after each, RSS after each, TensorFlow's warnings)."""
    from emokit.config.presets import get_preset
    from emokit.config.systems import parse_system
    from emokit.experiment.runs import train_and_evaluate

    config = get_preset("quick")  # EMOKIT_QUICK=1 (conftest): tiny model
    config = dataclasses.replace(
        config, init_from="baseline",
        model=dataclasses.replace(config.model, pair_loss_scaling="grad_ratio"),
        train=dataclasses.replace(config.train, epochs=1, monitor=True))
    data = _fold()
    baseline = parse_system("baseline")
    warm = parse_system("contrastive-infonce-0.3", warm_start=True)
    records = _Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(records)
    results, functions, rss = [], [], []
    try:
        for system in (baseline, warm, parse_system("audio"), baseline, warm):
            init = results[0].final_weights if system is warm else None
            results.append(train_and_evaluate(config, system, data, seed=0, init_weights=init))
            functions.append(_live_tf_functions())
            rss.append(_rss_mb())
    finally:
        logger.removeHandler(records)
    return results, functions, rss, records.messages


def test_runs_in_one_process_print_no_retracing_warning(five_runs):
    """Each run's functions are new (new model, new variables) and traced once: TensorFlow must
    not take that for retracing of one function (issue #17)."""
    retracing = [m for m in five_runs[3] if "retracing" in m]
    assert not retracing, retracing


def test_a_known_architecture_compiles_nothing_and_holds_no_more_memory(five_runs):
    """Three architectures, three sets of compiled functions: the repeats (a baseline and a
    warm-started contrastive run) trace nothing new, and memory stays flat over them."""
    _, functions, rss, _ = five_runs
    assert functions[0] < functions[1] < functions[2], f"live functions after each: {functions}"
    assert functions[3] == functions[4] == functions[2], f"live functions after each: {functions}"
    growth = (rss[4] - rss[2]) / 2
    assert growth < MAX_GROWTH_PER_RUN_MB, f"{growth:.1f} MB more per run (RSS after each {rss})"


def test_fit_on_models_built_fresh_leaves_nothing_behind():
    """A model that is not a kept one (``build_model`` + ``fit``, a user's own loop) gets its own
    Trainer, released when the run ends: once the model is dropped, nothing of it stays."""
    from emokit.config import ModelConfig, TrainConfig
    from emokit.model.emotion_model import build_model
    from emokit.training.loop import fit, release_run_state

    data = _fold()
    functions = []
    for seed in range(3):
        model = build_model(ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4,
                                        text_rnn_units=4, contrastive_weight=0.5,
                                        discriminator_units=8),
                            FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=seed)
        fit(model, data.train, fake_dataset(16, 8, seed=1),
            TrainConfig(epochs=1, verbose=0, monitor=False))
        del model
        release_run_state()
        functions.append(_live_tf_functions())
    assert functions[2] <= functions[0], f"live TensorFlow functions after each: {functions}"


def test_same_runs_give_the_same_numbers_after_other_runs(five_runs):
    """Reusing a kept model and its compiled step changes nothing a run computes: a run after
    three other runs in the same process (reusing what the first of them compiled) predicts
    exactly what it predicted when its model was built and compiled fresh (a baseline, and a
    contrastive run warm-started from it), with the same initial weights and the same loss
    curve."""
    results = five_runs[0]
    for first, again in ((results[0], results[3]), (results[1], results[4])):
        np.testing.assert_array_equal(first.probs, again.probs)
        assert first.history["ce"] == again.history["ce"]
        assert [h for _, h in first.initial_weights] == [h for _, h in again.initial_weights]


def test_forgotten_custom_gradients_free_the_graph_they_were_traced_in():
    """What the Trainer relies on: a ``tf.custom_gradient`` traced into a ``tf.function`` keeps
    that function's graph alive from TensorFlow's gradient registry until ``forget``."""
    import weakref

    import tensorflow as tf

    from emokit.training.runtime import CustomGradients, _gradient_registry

    @tf.custom_gradient
    def doubled(x):
        return 2 * x, lambda dy: 2 * dy

    custom = CustomGradients()

    def step(x):
        with custom.recording():
            return doubled(x) + 1

    function = tf.function(step)
    graph = weakref.ref(function.get_concrete_function(tf.TensorSpec([2])).graph)
    assert len(custom.names) == 1 and custom.names[0] in _gradient_registry()
    del function
    gc.collect()
    assert graph() is not None, "the registry no longer keeps traced graphs: drop CustomGradients"
    custom.forget()
    gc.collect()
    assert graph() is None and not custom.names


STATEFUL_RANDOM_OPS = {"RandomUniform", "RandomUniformInt", "RandomStandardNormal",
                       "TruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
                       "RandomPoisson", "RandomPoissonV2", "StatefulUniform", "StatefulUniformInt",
                       "StatefulUniformFullInt", "StatefulStandardNormalV2",
                       "StatefulTruncatedNormal", "StatefulRandomBinomial"}


def test_the_training_step_holds_no_stateful_random_kernel():
    """What keeping TensorFlow's kernel cache between runs relies on
    (``emokit.core.tf_process.kernel_cache_kept``): the compiled step of a model with dropout and
    a discriminator draws its randomness from stateless ops seeded by variables, so no kernel
    carries a random state from one run into the next."""
    from emokit.config import ModelConfig, TrainConfig
    from emokit.model.emotion_model import build_model
    from emokit.training.trainer import Trainer

    model = build_model(ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4,
                                    text_rnn_units=4, dropout=0.5, modality_dropout=0.3,
                                    contrastive_weight=0.5, discriminator_units=8),
                        FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=0)
    trainer = Trainer(model, TrainConfig(verbose=0))
    train = _fold().train
    trainer.compile_for(train.element_spec)
    graph = trainer.step.get_concrete_function(*next(iter(train))).graph.as_graph_def()
    ops = {node.op for node in graph.node}
    ops |= {node.op for function in graph.library.function for node in function.node_def}
    assert any(op.startswith("StatelessRandom") for op in ops), "dropout's ops were not found"
    assert not ops & STATEFUL_RANDOM_OPS, sorted(ops & STATEFUL_RANDOM_OPS)
