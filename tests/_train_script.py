"""A small training run in its own process, for the kill/resume and MirroredStrategy tests.

python tests/_train_script.py OUT.json [--checkpoint DIR] [--epochs N] [--slow] [--devices K]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--checkpoint")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--slow", action="store_true", help="sleep 0.1 s per batch")
    parser.add_argument("--devices", type=int, default=0, help="logical CPU devices (distribute)")
    args = parser.parse_args()

    import tensorflow as tf

    if args.devices:  # must happen before TensorFlow initializes its devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)
    from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_examples

    from emokit.config import ModelConfig, TrainConfig
    from emokit.model.emotion_model import build_model
    from emokit.training.forward import evaluate
    from emokit.training.loop import fit

    model_config = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3,
                               audio_rnn_units=4, text_rnn_units=4, discriminator_units=8,
                               dropout=0.0 if args.devices else 0.3,
                               contrastive_weight=0.0 if args.devices else 0.5)
    inputs, labels = fake_examples(48, seed=0)
    train = tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(48, seed=1)
    train = train.batch(8)
    if args.slow:
        def slow(x, y):
            tf.py_function(lambda: time.sleep(0.1), [], [])
            return x, y
        train = train.map(slow)
    val_inputs, val_labels = fake_examples(24, seed=5)
    val = tf.data.Dataset.from_tensor_slices((val_inputs, val_labels)).batch(8)
    if args.devices:
        train = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(8)
    results = {}
    for distribute in ([False, True] if args.devices else [False]):
        model = build_model(model_config, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=0)
        config = TrainConfig(epochs=args.epochs, patience=100, clipnorm=100.0, verbose=0,
                             checkpoint_dir=args.checkpoint, distribute=distribute)
        history = fit(model, train, val, config)
        results[str(distribute)] = {
            "history": history, "val": evaluate(model, val, NUM_CLASSES),
            "weights": [w.tolist() for w in model.get_weights()],
            "replicas": tf.distribute.get_strategy().num_replicas_in_sync if not distribute
            else __import__("emokit.training.trainer").training.trainer.get_strategy(config).num_replicas_in_sync}
    Path(args.out).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
