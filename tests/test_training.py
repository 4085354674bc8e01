"""emokit.training: the compiled loop, seeds, model.fit parity, early stopping, checkpoints and
resume (also after SIGKILL), NaN stop, TensorBoard, mixed precision, XLA, MirroredStrategy."""

import dataclasses
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from _fake_batches import (
    FEATURE_DIM,
    NUM_CLASSES,
    VOCAB_SIZE,
    bucketed_dataset,
    fake_dataset,
    fake_examples,
)

from emokit.config import ModelConfig, TrainConfig
from emokit.model.emotion_model import build_model
from emokit.training.forward import encode_dataset, evaluate, evaluate_and_encode, predict_dataset
from emokit.training.loop import fit
from emokit.training.trainer import Trainer, TrainingDiverged, make_optimizer

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, dropout=0.2, contrastive_weight=0.5)
QUIET = TrainConfig(epochs=2, verbose=0, patience=100)
SCRIPT = Path(__file__).parent / "_train_script.py"


def tiny_model(seed=0, **changes):
    return build_model(dataclasses.replace(TINY, **changes), FEATURE_DIM, VOCAB_SIZE,
                       NUM_CLASSES, seed=seed)


def train_config(**changes):
    return dataclasses.replace(QUIET, **changes)


def test_step_traces_once_per_distinct_batch_shape():
    shapes = [(12, 4), (20, 6), (16, 5)]
    trainer = Trainer(tiny_model(), train_config())
    for epoch in range(2):
        trainer.run_epoch(bucketed_dataset(shapes * 2), epoch)
    assert 1 <= trainer.trace_count <= len(shapes)


def test_step_compiled_for_a_dataset_traces_once():
    dataset = bucketed_dataset([(12, 4), (20, 6), (16, 5)])
    trainer = Trainer(tiny_model(), train_config())
    trainer.compile_for(dataset.element_spec)
    for epoch in range(2):
        trainer.run_epoch(dataset, epoch)
    assert trainer.trace_count == 1


def test_same_seed_same_results_different_seed_differs():
    train, val = fake_dataset(32, 8), fake_dataset(16, 8, seed=1)
    runs = [fit(tiny_model(), train, val, train_config()) for _ in range(2)]
    assert runs[0]["loss"] == runs[1]["loss"]
    assert runs[0]["val_ua"] == runs[1]["val_ua"] and runs[0]["val_wa"] == runs[1]["val_wa"]
    other = fit(tiny_model(seed=3), train, val, train_config(seed=3))
    assert other["loss"] != runs[0]["loss"]


def test_baseline_training_leaves_the_discriminator_untouched():
    model = tiny_model(contrastive_weight=0.0)
    before = [np.asarray(w) for w in model.discriminator.weights]
    encoder_before = np.asarray(model.audio_encoder.weights[0])
    history = fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1), train_config(epochs=1))
    assert "disc_loss" not in history
    for b, w in zip(before, model.discriminator.weights):
        np.testing.assert_array_equal(b, np.asarray(w))
    assert not np.array_equal(encoder_before, np.asarray(model.audio_encoder.weights[0]))


def test_contrastive_training_teaches_the_discriminator():
    train, val = fake_dataset(64, 16), fake_dataset(16, 8, seed=1)
    history = fit(tiny_model(dropout=0.0), train, val,
                  train_config(epochs=12, learning_rate=1e-2))
    assert history["disc_loss"][-1] < history["disc_loss"][0] - 0.05
    assert history["disc_acc"][-1] > 0.6


def test_custom_loop_and_model_fit_agree():
    train = fake_dataset(24, 8)
    config = train_config(epochs=1)
    ours = tiny_model()
    trainer = Trainer(ours, config)
    trainer.set_learning_rate(config.learning_rate)
    for inputs, labels in train:
        last = {k: float(v) for k, v in trainer.step(inputs, labels).items()}

    theirs = tiny_model()
    theirs.compile(optimizer=make_optimizer(config))
    logs = theirs.fit(train, epochs=1, verbose=0, shuffle=False).history  # last step's values
    assert logs["loss"][0] == pytest.approx(last["loss"], rel=1e-4)
    assert logs["disc_loss"][0] == pytest.approx(last["disc_loss"], rel=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_early_stopping_restores_the_best_weights():
    train, val = fake_dataset(32, 8), fake_dataset(16, 8, seed=1)
    model = tiny_model()
    history = fit(model, train, val, train_config(epochs=30, patience=2, learning_rate=3e-2))
    assert history["stopped_early"] and history["epochs_run"] < 30
    assert history["epochs_run"] == history["best_epoch"] + 2
    assert history["best_val_ua"] == max(history["val_ua"])
    assert evaluate(model, val, NUM_CLASSES)["ua"] == pytest.approx(history["best_val_ua"])


def test_predict_dataset_returns_probabilities_in_dataset_order():
    model = tiny_model()
    inputs, labels = fake_examples(10)
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    y_true, probs = predict_dataset(model, ds)
    np.testing.assert_array_equal(y_true, labels)
    assert probs.shape == (10, NUM_CLASSES)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, tf.nn.softmax(model(inputs)).numpy(), atol=1e-5)


@pytest.mark.parametrize("modalities", ["both", "audio"])
def test_one_validation_pass_gives_the_metrics_and_codes_of_two(modalities):
    # fit's monitoring takes the validation codes from the validation pass: the metrics and codes
    # must be bit for bit those of evaluate and encode_dataset, or monitoring would change numbers
    model = tiny_model(modalities=modalities, contrastive_weight=0.0)
    ds = bucketed_dataset([(30, 5), (60, 8), (45, 3)], batch_size=6)
    metrics, (audio, text, labels) = evaluate_and_encode(model, ds, NUM_CLASSES)
    assert metrics == evaluate(model, ds, NUM_CLASSES)
    want_audio, want_text, want_labels = encode_dataset(model, ds)
    np.testing.assert_array_equal(audio, want_audio)
    np.testing.assert_array_equal(labels, want_labels)
    if modalities == "audio":
        assert text is None and want_text is None
    else:
        np.testing.assert_array_equal(text, want_text)


def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path):
    inputs, labels = fake_examples(32)
    val = fake_dataset(16, 8, seed=1)

    def shuffled_train():  # a fresh dataset object per run, as in a new process
        return tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(32, seed=2).batch(8)

    straight = tiny_model()
    full = fit(straight, shuffled_train(), val, train_config(epochs=3))
    fit(tiny_model(), shuffled_train(), val, train_config(epochs=2, checkpoint_dir=str(tmp_path)))
    resumed_model = tiny_model()
    resumed = fit(resumed_model, shuffled_train(), val,
                  train_config(epochs=3, checkpoint_dir=str(tmp_path)))
    assert resumed["epochs_run"] == 3 and len(resumed["loss"]) == 3
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-6)
    assert resumed["val_ua"] == full["val_ua"]
    for a, b in zip(straight.get_weights(), resumed_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    inputs, labels = fake_examples(16)
    val = fake_dataset(8, 8, seed=1)
    fit(tiny_model(), tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(8), val,
        train_config(epochs=1, checkpoint_dir=str(tmp_path)))
    inputs["audio"][9, 0, 0] = np.nan  # second batch
    broken = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(8)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 2.*checkpoint of epoch 1.*learning_rate"):
        fit(tiny_model(), broken, val, train_config(epochs=3, checkpoint_dir=str(tmp_path)))
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 1
    assert list(tmp_path.glob(f"{state['checkpoint']}.index"))


def test_divergence_is_a_user_error_naming_the_changed_setting_first(capsys):
    """aux_heads_weight 1e300 (the loss overflows): the message names it first, with its default;
    a command line prints that one line, no traceback, and exits non-zero."""
    from emokit.core.cli import run_cli
    from emokit.core.errors import UserError

    model = tiny_model(aux_heads_weight=1e300)

    def train(argv):
        fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1), train_config(epochs=1))

    with pytest.raises(TrainingDiverged) as caught:
        train([])
    assert isinstance(caught.value, UserError)
    message = str(caught.value)
    named = re.findall(r"(model|train)\.(\w+) = ", message)
    assert named[0] == ("model", "aux_heads_weight"), message
    assert "model.aux_heads_weight = 1e+300 (default 0.0)" in message
    assert "Fix: bring model.aux_heads_weight back towards its default" in message
    assert {"learning_rate", "clipnorm", "contrastive_weight", "temperature"} <= {
        n for _, n in named}
    assert run_cli(train, []) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the training loss became")
    assert "Traceback" not in err


def test_tensorboard_scalars_are_written(tmp_path):
    fit(tiny_model(), fake_dataset(16, 8), fake_dataset(8, 8, seed=1),
        train_config(epochs=1, tensorboard_dir=str(tmp_path)))
    tags = set()
    for event_file in tmp_path.glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(event_file)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(v.tag for v in event.summary.value)
    assert {"loss", "ce", "disc_loss", "disc_acc", "val_wa", "val_ua", "lr"} <= tags


@pytest.mark.parametrize("switch", [{"mixed_precision": True}, {"xla": True}])
def test_gpu_switches_run_on_cpu(switch):
    model = tiny_model()
    before = [np.asarray(w) for w in model.trainable_weights]
    history = fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1),
                  train_config(epochs=1, **switch))
    assert np.isfinite(history["loss"]).all()
    assert model.dtype_policy.name == "float32"  # the caller's model keeps its policy
    assert any(not np.array_equal(b, np.asarray(w))
               for b, w in zip(before, model.trainable_weights))


def run_script(out, *args, **popen):
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), *args], **popen)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_final_metrics(tmp_path):
    ckpt = tmp_path / "ckpt"
    straight = run_script(tmp_path / "straight.json", "--epochs", "5")
    victim = run_script(tmp_path / "killed.json", "--epochs", "5", "--slow", "--checkpoint", ckpt)
    state = ckpt / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 2:
            victim.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert victim.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert 2 <= json.loads(state.read_text())["epoch"] < 5
    resumed = run_script(tmp_path / "resumed.json", "--epochs", "5", "--checkpoint", ckpt)
    assert resumed.wait() == 0 and straight.wait() == 0
    a = json.loads((tmp_path / "straight.json").read_text())["False"]
    b = json.loads((tmp_path / "resumed.json").read_text())["False"]
    assert a["val"] == b["val"]
    assert a["history"]["val_ua"] == b["history"]["val_ua"]
    np.testing.assert_allclose(a["history"]["loss"], b["history"]["loss"], rtol=1e-6)


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpu_devices_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    assert run_script(out, "--epochs", "2", "--devices", "2").wait() == 0
    results = json.loads(out.read_text())
    single, mirrored = results["False"], results["True"]
    assert mirrored["replicas"] == 2
    np.testing.assert_allclose(mirrored["history"]["loss"], single["history"]["loss"], rtol=1e-5)
    for a, b in zip(single["weights"], mirrored["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5)
