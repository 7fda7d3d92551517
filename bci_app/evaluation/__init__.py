"""Evaluation: offline (MOABB) and pseudo-online, metrics, reports and plots.

Submodules are imported on demand (MOABB costs seconds to import).
"""
