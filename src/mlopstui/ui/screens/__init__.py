"""Screens pushed over the workbench: help, pickers, run detail, compare."""
