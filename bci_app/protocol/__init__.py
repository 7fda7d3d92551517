"""Protocols: run descriptions read from TOML files, and the runner that sends their markers.

See :mod:`bci_app.protocol.spec` for the file format, :mod:`bci_app.protocol.schedule` for
the schedule of a run and :mod:`bci_app.protocol.runner` for the state machine that plays it
and the marker scheme.
"""

from .runner import (
    ProtocolRunner,
    Step,
    Transition,
    build_schedule,
    marker_annotations,
    trial_order,
)
from .spec import (
    ALLOWED_CLASSES,
    RESERVED_MARKERS,
    Protocol,
    Timing,
    list_protocols,
    load_protocol,
    protocol_from_dict,
    protocol_path,
)

__all__ = [
    "ALLOWED_CLASSES", "RESERVED_MARKERS", "Protocol", "ProtocolRunner",
    "Step", "Timing", "Transition", "build_schedule", "list_protocols", "load_protocol",
    "marker_annotations", "protocol_from_dict", "protocol_path", "trial_order",
]
