"""bnfix: find and repair the source-level causes of unexpected Keras BatchNormalization output."""

__version__ = "0.1.0"
