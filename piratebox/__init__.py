"""The CoCoTe box: one module per feature; none of the logic modules imports Flask."""

__version__ = "0.1.0"
