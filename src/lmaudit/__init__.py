"""lmaudit: evaluate language models and say how far every score can be trusted."""

__version__ = "0.1.0"
