"""Decoding: scikit-learn estimators for motor-imagery EEG, and pipelines from ``models/``.

Every step is an estimator (``fit``/``transform``/``predict``), so it drops into
:func:`sklearn.pipeline.make_pipeline`, grid searches and MOABB evaluations. Model files
name these classes with ``from: bci_app.decoding``.
"""

from .augmented import AugmentedCovariance, delay_embed
from .channels import SENSORIMOTOR, SelectChannels, bind_recording_info
from .connectivity import Connectivity
from .covariance import ShrunkCovariances, nearest_spd, oas_covariances
from .embedding import estimate_lag, estimate_order
from .ensemble import FuconeClassifier
from .graph import GraphFeatures
from .loading import ModelSpec, find_model, load_models, read_model_file
from .mdm import FastMDM
from .transfer import Recenter

__all__ = [
    "AugmentedCovariance",
    "Connectivity",
    "FastMDM",
    "FuconeClassifier",
    "GraphFeatures",
    "ModelSpec",
    "Recenter",
    "SENSORIMOTOR",
    "SelectChannels",
    "ShrunkCovariances",
    "bind_recording_info",
    "delay_embed",
    "estimate_lag",
    "estimate_order",
    "find_model",
    "load_models",
    "nearest_spd",
    "oas_covariances",
    "read_model_file",
]
