"""Stage 5, training: the compiled training loop (early stopping on validation UA, per-epoch
checkpoints and resume, mixed precision, XLA, MirroredStrategy), the metrics it stops on (WA,
UA), the per-epoch probes of what each code holds, warm starts, and the runtime (GPUs, what
changes on an accelerator).

The public face:

    from emokit.training import fit
    history = fit(model, train_ds, val_ds, config.train)

May import: :mod:`emokit.core`, :mod:`emokit.config`, :mod:`emokit.data`, :mod:`emokit.model`.
"""

from emokit.core.lazy import lazy_names

_FACE = {
    "fit": "emokit.training.loop",
    "Trainer": "emokit.training.trainer",
    "predict_dataset": "emokit.training.forward",
    "encode_dataset": "emokit.training.forward",
    "evaluate": "emokit.training.forward",
}
__all__ = sorted(_FACE)
__getattr__ = lazy_names(__name__, _FACE)
