"""Stage 5, training: the compiled training loop (early stopping on validation UA, per-epoch
checkpoints and resume, mixed precision, XLA, MirroredStrategy), the metrics it stops on (WA,
UA), the per-epoch probes of what each code holds, warm starts, and the runtime (GPUs, what
changes on an accelerator).

The public face:

    from emokit.training import fit
    history = fit(model, train_ds, val_ds, config.train)

May import: :mod:`emokit.core`, :mod:`emokit.config`, :mod:`emokit.data`, :mod:`emokit.model`.
"""

_FACE = {
    "fit": "emokit.training.loop",
    "Trainer": "emokit.training.trainer",
    "predict_dataset": "emokit.training.forward",
    "encode_dataset": "emokit.training.forward",
    "evaluate": "emokit.training.forward",
}
__all__ = sorted(_FACE)


def __getattr__(name):
    """The public functions, imported when first used (importing the package stays cheap)."""
    if name in _FACE:
        import importlib

        return getattr(importlib.import_module(_FACE[name]), name)
    raise AttributeError(f"module 'emokit.training' has no attribute {name!r}")
