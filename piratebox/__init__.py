"""The CoCoTe box: one package (or module) per feature; no logic module imports Flask.

docs/architecture.md tells what each holds and how a request goes through them.
"""

__version__ = "0.1.0"
