"""The names a setting may take, shared by the settings, their validation and the system names.

Kept apart from :mod:`emokit.config.settings` so that validation and the system names can import
them without importing the settings they check.
"""

# The pair losses (see emokit.model.losses): three kinds score the whole n x n grid of (audio,
# text) pairs with a balanced binary cross-entropy; three follow the paper's published code.
GRID_DISCRIMINATORS = ("mlp", "bilinear", "cosine_grid")
PAPER_DISCRIMINATORS = ("infonce", "mine", "shuffled_bce")
DISCRIMINATORS = GRID_DISCRIMINATORS + PAPER_DISCRIMINATORS
RENAMED_DISCRIMINATORS = {
    "cosine": "the 'cosine' discriminator is now called 'cosine_grid' (balanced BCE over the pair "
              "grid of cosine scores); the paper code's cosine discriminator is 'infonce'",
}
PAIRINGS = ("label", "instance")
OBJECTIVES = ("sum", "convex")  # CE + lambda L, or the paper's (1 - alpha) CE + alpha L
PAIR_LOSS_SCALINGS = ("none", "grad_ratio")
WARM_START_CLASSIFIERS = ("copy", "reinit")  # ExperimentConfig.warm_start_classifier
PROTOCOLS = ("session", "speaker")
TRAINERS = ("word2vec", "fasttext")  # TextConfig.trainer: gensim's Word2Vec or FastText
FEATURE_KINDS = ("mfcc", "logmel", "hub")  # "hub": a frozen Keras Hub Whisper encoder
# FeatureConfig.hub_layers: "one" caches hub_layer's codes; "weighted" caches every layer's and the
# model learns softmax weights over them (emokit.model.layer_weights.LayerWeightedSum)
HUB_LAYER_MODES = ("one", "weighted")
NORMALIZATION_MODES = ("none", "utterance", "speaker", "global")
# TrainConfig.accelerator: "auto" applies the GPU settings on a GPU, "off" never; "gpu" is
# written by emokit.config.accelerator.use_accelerator once it applied them
ACCELERATORS = ("auto", "off", "gpu")
