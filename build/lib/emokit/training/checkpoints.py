"""Per-epoch checkpoints of a training run, so that a killed run resumes where it stopped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from emokit.core.atomic import write_atomic

if TYPE_CHECKING:
    from emokit.training.trainer import Trainer

STATE_FILE = "state.json"


BEST_WEIGHTS_FILE = "best_weights.npz"


@dataclasses.dataclass
class LoopState:
    """Where a run stands after ``epoch`` finished epochs (saved with every checkpoint)."""

    epoch: int = 0
    best_val_ua: float = -1.0
    best_epoch: int = -1
    wait: int = 0  # epochs since the best validation UA
    history: dict = dataclasses.field(default_factory=dict)


def _rng_states(model) -> dict:
    """The dropout seed-generator states of ``model`` (Keras does not checkpoint them)."""
    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    return {f"state{i}": v.value for i, v in enumerate(states)}


class Checkpoints:
    """Model + optimizer (``tf.train.Checkpoint``, dropout RNG states included), the best
    weights so far (``best_weights.npz``) and the ``LoopState`` (``state.json``, written last, so
    it only ever names a complete checkpoint)."""

    def __init__(self, directory, trainer: Trainer):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer,
                                              rng=_rng_states(trainer.model),
                                              pair_scale=trainer.pair_scale,
                                              ce_norm_average=trainer.ce_norm_average,
                                              pair_norm_average=trainer.pair_norm_average)

    def restore(self) -> tuple[LoopState, list | None]:
        """The saved state and best weights (restoring model and optimizer), or a fresh start."""
        state_path = self.dir / STATE_FILE
        if not state_path.exists():
            return LoopState(), None
        import zipfile

        from emokit.core.errors import CorruptFileError

        fix = f"delete the folder {self.dir} (this run restarts from epoch 1)"
        try:
            saved = json.loads(state_path.read_text())
            self.checkpoint.restore(str(self.dir / saved.pop("checkpoint"))).assert_consumed()
        except (ValueError, KeyError, TypeError, AssertionError, tf.errors.OpError) as e:
            raise CorruptFileError(state_path, f"{type(e).__name__}: {e}", fix) from None
        try:
            with np.load(self.dir / BEST_WEIGHTS_FILE) as best:
                weights = [best[f"w{i}"] for i in range(len(best.files))]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CorruptFileError(self.dir / BEST_WEIGHTS_FILE, f"{type(e).__name__}: {e}",
                                   fix) from None
        return LoopState(**saved), weights

    def save(self, state: LoopState, best_weights: list) -> None:
        import io

        prefix = self.checkpoint.save(str(self.dir / f"epoch{state.epoch:03d}"))
        buffer = io.BytesIO()
        np.savez(buffer, **{f"w{i}": w for i, w in enumerate(best_weights)})
        write_atomic(self.dir / BEST_WEIGHTS_FILE, buffer.getvalue())
        payload = {**dataclasses.asdict(state), "checkpoint": Path(prefix).name}
        write_atomic(self.dir / STATE_FILE, json.dumps(payload, indent=1))
        for old in self.dir.glob("epoch*"):  # keep only the checkpoint the state names
            if not old.name.startswith(Path(prefix).name):
                old.unlink()
