"""mlopstui: a terminal workbench for machine learning in production."""

__version__ = "0.1.0"
