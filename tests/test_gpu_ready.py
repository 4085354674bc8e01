"""emokit.training.gpu_ready (notebook 10): the hand-written regularized step compiled, under a
loss-scale optimizer and under a strategy gives the eager step's numbers; cudnn_report flags what
keeps a GRU off cuDNN; the faked GPU list reaches use_accelerator; notebook 10's exercises."""


import keras
import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, bucketed_dataset, fake_examples

from emokit.config import ModelConfig
from emokit.config.presets import get_preset, preset_config
from emokit.course.checking import RIGHT, WRONG
from emokit.course.exercises import notebook10
from emokit.model.emotion_model import build_model
from emokit.training import gpu_ready

# no dropout: two models (or two steps) draw nothing at random, so they can agree exactly
SMALL = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_rnn_units=4, text_rnn_units=4,
                    discriminator="infonce", discriminator_units=8, pairing="label",
                    temperature=0.1, contrastive_weight=0.5, dropout=0.0, modality_dropout=0.0)


def small_model(seed=0):
    return build_model(SMALL, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=seed)


def flat(arrays) -> np.ndarray:
    return np.concatenate([np.ravel(tf.convert_to_tensor(a)).astype("float64") for a in arrays])


@pytest.fixture(scope="module")
def batch():
    inputs, labels = fake_examples(16, seed=3)
    return {k: tf.constant(v) for k, v in inputs.items()}, tf.constant(labels)


def test_the_compiled_step_gives_the_eager_loss_and_update(batch):
    eager_model, compiled_model = small_model(), small_model()
    eager = gpu_ready.make_step(eager_model, keras.optimizers.Adam(1e-2), weight=0.5)
    compiled = tf.function(gpu_ready.make_step(compiled_model, keras.optimizers.Adam(1e-2), 0.5))
    for _ in range(2):
        a, b = eager(*batch), compiled(*batch)
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
        assert float(a["loss"]) == pytest.approx(float(a["ce"]) + 0.5 * float(a["pair"]), rel=1e-6)
    np.testing.assert_allclose(flat(eager_model.get_weights()), flat(compiled_model.get_weights()),
                               atol=1e-5)
    assert compiled.experimental_get_tracing_count() == 1
    assert not np.allclose(flat(eager_model.get_weights()), flat(small_model().get_weights()))


def test_loss_scaled_gradients_are_the_unscaled_ones_times_the_scale(batch):
    model = small_model()
    scaler = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2))
    scaler.build(model.trainable_variables)
    _, scaled = gpu_ready.scaled_gradients(model, scaler, *batch, weight=0.5, training=False)
    _, plain = gpu_ready.scaled_gradients(model, keras.optimizers.Adam(), *batch, weight=0.5,
                                          training=False)
    scale = float(scaler.dynamic_scale)
    assert scale == 2.0**15
    np.testing.assert_allclose(flat(scaled) / scale, flat(plain), rtol=1e-4, atol=1e-9)


def test_the_loss_scale_optimizer_unscales_in_apply_and_skips_non_finite_steps(batch):
    scaled_model, plain_model = small_model(), small_model()
    scaler = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2))
    scaled_step = tf.function(gpu_ready.make_step(scaled_model, scaler, 0.5))
    plain_step = tf.function(gpu_ready.make_step(plain_model, keras.optimizers.Adam(1e-2), 0.5))
    scaled_step(*batch)
    plain_step(*batch)  # float32 throughout: the scaled step overflows nothing
    assert int(scaler.iterations) == 1 and float(scaler.dynamic_scale) == 2.0**15
    np.testing.assert_allclose(flat(scaled_model.get_weights()), flat(plain_model.get_weights()),
                               atol=1e-5)
    before = flat(scaled_model.get_weights())
    _, gradients = gpu_ready.scaled_gradients(scaled_model, scaler, *batch, weight=0.5)
    gradients = [tf.fill(tf.shape(gradients[0]), np.inf), *gradients[1:]]
    scaler.apply(gradients, scaled_model.trainable_variables)
    assert float(scaler.dynamic_scale) == 2.0**14 and int(scaler.iterations) == 1
    np.testing.assert_array_equal(flat(scaled_model.get_weights()), before)


def test_a_mixed_precision_step_keeps_float32_weights_logits_and_pair_loss(batch):
    mixed = gpu_ready.copy_model(small_model(), "mixed_float16")
    audio, text = mixed.encode(batch[0])
    assert audio.dtype == "float16" and mixed(batch[0]).dtype == "float32"
    assert {v.dtype for v in mixed.trainable_variables} == {"float32"}
    losses = gpu_ready.regularized_losses(mixed, *batch, weight=0.5, training=False)
    assert {v.dtype for v in losses.values()} == {tf.float32}
    reference = gpu_ready.regularized_losses(small_model(), *batch, weight=0.5, training=False)
    assert float(losses["loss"]) == pytest.approx(float(reference["loss"]), rel=2e-3)


def test_one_replica_under_mirrored_strategy_is_the_plain_step(batch):
    strategy = gpu_ready.mirrored_strategy()
    replicas = strategy.num_replicas_in_sync
    mirrored = gpu_ready.copy_model(small_model(), strategy=strategy)
    assert type(mirrored.trainable_variables[0].value).__name__ == "MirroredVariable"
    with strategy.scope():
        step = gpu_ready.make_step(mirrored, keras.optimizers.Adam(1e-2), 0.5, replicas=replicas)
    distributed = tf.function(gpu_ready.replicated(strategy, step))
    plain_model = small_model()
    plain = tf.function(gpu_ready.make_step(plain_model, keras.optimizers.Adam(1e-2), 0.5))
    assert replicas == 1  # the CPU
    a, b = distributed(*batch), plain(*batch)
    assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
    np.testing.assert_allclose(flat(mirrored.get_weights()), flat(plain_model.get_weights()),
                               atol=1e-5)


def test_cudnn_report_passes_emokits_encoders_and_flags_what_rules_cudnn_out(batch):
    rows = gpu_ready.cudnn_report(small_model(), batch[0])
    grus = [r for r in rows if "gru" in r[0]]
    assert len(grus) == 4 and all(ok for _, ok, _ in rows), rows
    assert {r[0].split("/")[0] for r in grus} == {"audio_encoder", "text_encoder"}
    [(_, ok, why)] = gpu_ready.cudnn_report(keras.layers.GRU(4, recurrent_dropout=0.2))
    assert not ok and why == "recurrent_dropout=0.2 (must be 0)"
    suspect = keras.layers.GRU(4, activation="relu", dropout=0.3, unroll=True, reset_after=False,
                               use_cudnn=False)
    assert len(gpu_ready.cudnn_problems(suspect)) == 4  # dropout is no problem
    assert gpu_ready.cudnn_problems(keras.layers.GRU(4, dropout=0.5)) == []
    left_padded = dict(batch[0], text_mask=np.array([[False, True, True]] * 2))
    assert ("text_mask", False) in [r[:2] for r in gpu_ready.cudnn_report(keras.Model(),
                                                                          left_padded)]
    assert gpu_ready.right_padded(np.array([[True, True, False], [True, False, False]]))
    assert not gpu_ready.right_padded(np.array([[True, True], [False, False]]))


def test_the_traced_step_runs_the_generic_gru_loop_on_a_cpu(batch):
    step = tf.function(gpu_ready.make_step(small_model(), keras.optimizers.Adam(), 0.5))
    types = gpu_ready.traced_op_types(step, *batch)
    assert not tf.config.list_physical_devices("GPU")
    assert not any(op.startswith("CudnnRNN") for op in types)
    assert types["While"] + types["StatelessWhile"] >= 4  # 2 encoders x 2 directions, forward


def test_a_plain_tf_function_traces_once_per_batch_shape():
    dataset = bucketed_dataset([(12, 4), (12, 4), (20, 6), (12, 4), (20, 8)])
    step = tf.function(gpu_ready.make_step(small_model(), keras.optimizers.Adam(), 0.5))
    for inputs, labels in dataset:
        step(inputs, labels)
    shapes = gpu_ready.batch_shapes(dataset)
    assert len(shapes) == 3 and sum(shapes.values()) == 5
    assert step.experimental_get_tracing_count() == len(shapes)


def test_float16_fate():
    gradients = [np.array([1e-9, 1e-6, 1.0, 0.0]), None, np.array([[3.0, -2e-5]])]
    assert gpu_ready.float16_fate(gradients) == {"zero": 0.2, "subnormal": 0.4, "overflow": 0.0}
    # x 2**15: 1e-9 becomes a subnormal 3.3e-5, 3.0 overflows (98304 > 65504)
    assert gpu_ready.float16_fate(gradients, 2.0**15) == {"zero": 0.0, "subnormal": 0.2,
                                                          "overflow": 0.2}


def test_pretend_gpus_reaches_use_accelerator_and_is_undone():
    written = preset_config("quick")
    with gpu_ready.pretend_gpus(2):
        config = get_preset("quick")
    changes = gpu_ready.config_changes(written, config)
    assert changes["train.mixed_precision"] == (False, True)
    assert changes["train.distribute"] == (False, True)
    assert changes["pipeline.batch_size"] == (written.pipeline.batch_size,
                                              4 * written.pipeline.batch_size)
    assert not tf.config.list_physical_devices("GPU") and get_preset("quick") == written


def test_notebook10_exercises(capsys):
    dataset = bucketed_dataset([(12, 4), (12, 4), (20, 6)])
    suspect = keras.layers.GRU(16, activation="relu", dropout=0.3, recurrent_dropout=0.2)
    cpu = preset_config("quick")
    objects = {"dataset": dataset, "gru": suspect, "cpu": cpu}
    per_replica = 4 * cpu.pipeline.batch_size // 2
    assert set(notebook10(2, 2, per_replica, **objects).values()) == {RIGHT}
    capsys.readouterr()
    statuses = notebook10(3, 3, 4 * cpu.pipeline.batch_size, **objects)
    assert set(statuses.values()) == {WRONG}
    out = capsys.readouterr().out
    assert "one trace per batch" in out and "input `dropout`" in out
    assert "that is the global batch" in out and str(per_replica) not in out
    notebook10(1, 0, cpu.pipeline.batch_size, **objects)
    out = capsys.readouterr().out
    assert "signature with free" in out and "that is the CPU batch" in out
    assert notebook10(True, 2.0, per_replica, **objects)["1"] == WRONG  # a bool is no number
