"""Stage 4, the model: Keras 3 layers (encoders, fusion, classifier, pair discriminators), which
pairs count as positives, the losses, and ``EmotionModel``, the paper's model whose ``train_step``
adds the pair loss to the cross-entropy. Every layer is a registered Keras serializable.

    from emokit.model.layers import AudioEncoder, TextEncoder, ConcatFusion, EmotionClassifier
    from emokit.model.emotion_model import build_model

May import: :mod:`emokit.core`, :mod:`emokit.config`.
"""
