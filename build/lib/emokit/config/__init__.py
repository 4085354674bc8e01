"""Stage 2, the settings: every setting of the kit in one dataclass tree, checked as a whole.

Owns the settings (``ExperimentConfig`` and its parts), the names a setting may take, the class
sets, the system names an experiment compares, the named presets, and the validation that refuses
a bad config at load time. The experiment builds one config and passes its parts down, so every
later stage reads its part from here. May import: :mod:`emokit.core`.

>>> from emokit.config import ExperimentConfig
>>> ExperimentConfig().features.hop_ms
10.0
"""

from emokit.config.choices import (
    DISCRIMINATORS,
    GRID_DISCRIMINATORS,
    OBJECTIVES,
    PAIR_LOSS_SCALINGS,
    PAIRINGS,
    PAPER_DISCRIMINATORS,
    RENAMED_DISCRIMINATORS,
    WARM_START_CLASSIFIERS,
)
from emokit.config.settings import (
    CorpusConfig,
    ExperimentConfig,
    FeatureConfig,
    ModelConfig,
    PipelineConfig,
    TextConfig,
    TrainConfig,
    quick_mode,
)

__all__ = [
    "DISCRIMINATORS", "GRID_DISCRIMINATORS", "OBJECTIVES", "PAIR_LOSS_SCALINGS", "PAIRINGS",
    "PAPER_DISCRIMINATORS", "RENAMED_DISCRIMINATORS", "WARM_START_CLASSIFIERS", "CorpusConfig",
    "ExperimentConfig", "FeatureConfig", "ModelConfig", "PipelineConfig", "TextConfig",
    "TrainConfig", "quick_mode",
]
