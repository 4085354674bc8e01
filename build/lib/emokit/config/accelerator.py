"""The GPU settings, and whether a config gets them: ``train.accelerator``.

``"auto"`` (the default): :func:`use_accelerator` applies the GPU settings when TensorFlow sees a
GPU, and :func:`emokit.config.presets.get_preset` calls it, so every notebook and
``python -m emokit.experiment`` gets them on a GPU. A config it changed says ``"gpu"``, so a saved
config that is loaded again is not scaled twice. ``"off"``: never (the CPU settings, also on a
GPU). On a CPU, ``"auto"`` leaves the config unchanged.

>>> config = use_accelerator(ExperimentConfig(), gpu_count=1)
>>> config.train.accelerator, config.train.mixed_precision, config.pipeline.batch_size
('gpu', True, 128)
"""

from __future__ import annotations

import dataclasses

from emokit.config.settings import ExperimentConfig

GPU_BATCH_SCALE = 4


def use_accelerator(config: ExperimentConfig, gpu_count: int | None = None) -> ExperimentConfig:
    """A copy of ``config`` set up for the GPUs present (``gpu_count``: how many; None asks
    TensorFlow): mixed precision on, a batch 4x larger (and a learning rate scaled by its square
    root, 2x), and MirroredStrategy when there are several; XLA stays off; ``train.accelerator``
    becomes ``"gpu"``. The config comes back unchanged on a CPU-only machine, with
    ``train.accelerator: off``, and when it already holds the GPU settings (``"gpu"``).

    Why XLA stays off: on a GPU, Keras 3 runs emokit's GRUs with cuDNN's fused kernel
    (``CudnnRNNV3``), which XLA cannot compile, so ``TrainConfig.xla=True`` fails there at the
    first step ("No registered 'CudnnRNNV3' OpKernel for XLA_GPU_JIT"; tensorflow/tensorflow
    #99385, keras-team/keras #18456), and the fused kernel, not XLA, is what makes a GRU fast on
    a GPU. These choices are not measured on a GPU here: no GPU with TensorFlow was available to
    the sessions that built emokit. ``benchmarks/gpu.py`` measures them (fp32 vs mixed
    precision, XLA off/on, whether the GRUs run the fused kernel) on whatever GPU you have.
    """
    if config.train.accelerator != "auto":
        return config
    if gpu_count is None:
        from emokit.core.tf_process import gpus

        gpu_count = len(gpus())
    if gpu_count == 0:
        return config
    train = dataclasses.replace(
        config.train,
        accelerator="gpu",
        mixed_precision=True,
        xla=False,
        distribute=gpu_count > 1,
        learning_rate=config.train.learning_rate * GPU_BATCH_SCALE**0.5,
    )
    pipeline = dataclasses.replace(config.pipeline,
                                   batch_size=config.pipeline.batch_size * GPU_BATCH_SCALE)
    return dataclasses.replace(config, train=train, pipeline=pipeline)


def describe_accelerator(config: ExperimentConfig) -> str:
    """The report's words for it, e.g. ``accelerator: GPU settings applied (mixed precision,
    batch 128 = 4 x 32, learning rate x2)``."""
    train = config.train
    if train.accelerator == "gpu":
        batch = config.pipeline.batch_size
        parts = ["mixed precision" if train.mixed_precision else "float32",
                 f"batch {batch} = {GPU_BATCH_SCALE} x {batch // GPU_BATCH_SCALE}",
                 f"learning rate x{GPU_BATCH_SCALE**0.5:g}"]
        if train.distribute:
            parts.append("MirroredStrategy")
        return f"accelerator: GPU settings applied ({', '.join(parts)})"
    if train.accelerator == "off":
        return "accelerator: off (train.accelerator), CPU settings"
    return "accelerator: CPU settings (no GPU seen when the config was made)"
