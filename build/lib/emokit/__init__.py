"""emokit: multimodal (audio + text) speech emotion recognition with contrastive regularization.

A Keras 3 course kit for Qian & Han, *Contrastive Regularization for Multimodal Emotion
Recognition Using Audio and Text* (arXiv 2211.10885). Importing ``emokit`` is cheap: TensorFlow is
imported by the modules that need it, when they are first used.
"""

from emokit.config import ExperimentConfig
from emokit.config.labels import class_names

__version__ = "0.1.0"
__all__ = ["ExperimentConfig", "__version__", "class_names", "predict"]


def __getattr__(name):
    if name == "predict":
        from emokit.inference import predict

        return predict
    raise AttributeError(f"module 'emokit' has no attribute {name!r}")
