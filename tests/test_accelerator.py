"""train.accelerator: the GPU settings (emokit.config.accelerator.use_accelerator) are applied by
get_preset and ``python -m emokit.experiment`` where TensorFlow sees a GPU, not on a CPU, not
when switched off, and never twice; the report's protocol line says which. The device list is
faked: ``tf.config.list_physical_devices`` is what ``emokit.core.tf_process.gpus`` reads."""

import dataclasses

import pytest
import tensorflow as tf

from emokit.config import ExperimentConfig
from emokit.config.accelerator import use_accelerator
from emokit.config.presets import get_preset, preset_config
from emokit.experiment.cli import load_config
from emokit.experiment.protocol import describe_protocol
from emokit.training.gpu_ready import pretend_gpus


def fake_devices(monkeypatch, gpu_count: int) -> None:
    """TensorFlow's device list shows ``gpu_count`` GPUs until the test ends (notebook 10's
    ``pretend_gpus``, kept past its block by monkeypatch)."""
    with pretend_gpus(gpu_count):
        listed = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", listed)


@pytest.mark.parametrize("preset", ["quick", "full", "paper"])
def test_get_preset_applies_the_gpu_settings_on_a_gpu(monkeypatch, preset):
    written = preset_config(preset)
    fake_devices(monkeypatch, 1)
    config = get_preset(preset)
    assert config.train.accelerator == "gpu"
    assert config.train.mixed_precision and not config.train.xla and not config.train.distribute
    assert config.pipeline.batch_size == 4 * written.pipeline.batch_size
    assert config.train.learning_rate == pytest.approx(2 * written.train.learning_rate)
    assert "accelerator: GPU settings applied (mixed precision, batch " in \
        describe_protocol(config, [1])


def test_get_preset_keeps_the_cpu_settings_on_a_cpu(monkeypatch):
    fake_devices(monkeypatch, 0)
    config = get_preset("quick")
    assert config == preset_config("quick")
    assert config.train.accelerator == "auto" and not config.train.mixed_precision
    assert describe_protocol(config, [1]).endswith("accelerator: CPU settings (no GPU seen when "
                                                   "the config was made)")


def test_two_gpus_also_get_mirrored_strategy(monkeypatch):
    fake_devices(monkeypatch, 2)
    config = get_preset("quick")
    assert config.train.distribute and "MirroredStrategy" in describe_protocol(config, [1])


def test_a_settings_file_can_switch_it_off(monkeypatch, tmp_path):
    fake_devices(monkeypatch, 1)
    path = tmp_path / "off.yaml"
    path.write_text("train:\n  accelerator: \"off\"\n")
    config = load_config("quick", str(path))
    written = preset_config("quick")
    assert config.train.accelerator == "off" and not config.train.mixed_precision
    assert config.pipeline.batch_size == written.pipeline.batch_size
    assert "accelerator: off (train.accelerator)" in describe_protocol(config, [1])


def test_the_cli_applies_them_after_the_files_settings(monkeypatch, tmp_path):
    fake_devices(monkeypatch, 1)
    path = tmp_path / "batch.yaml"
    path.write_text("pipeline:\n  batch_size: 8\n")
    config = load_config("quick", str(path))
    assert config.train.accelerator == "gpu" and config.pipeline.batch_size == 32


def test_a_saved_gpu_config_is_not_scaled_twice(monkeypatch, tmp_path):
    fake_devices(monkeypatch, 1)
    config = get_preset("quick")
    config.save(tmp_path / "config.yaml")
    again = load_config("quick", str(tmp_path / "config.yaml"))
    assert again.pipeline.batch_size == config.pipeline.batch_size
    assert again.train.learning_rate == config.train.learning_rate
    assert use_accelerator(config, gpu_count=1) == config


def test_an_unknown_accelerator_is_refused_by_name():
    from emokit.config.validation import value_problems

    config = ExperimentConfig()
    config.train = dataclasses.replace(config.train, accelerator="always")
    problems = value_problems(config)
    assert [p.split(":")[0] for p in problems] == ["train.accelerator"], problems
    assert "'off'" in problems[0]
