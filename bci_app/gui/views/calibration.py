"""Step 3, Calibration: run a cue-based protocol without feedback and record it."""

from PySide6 import QtWidgets

from .common import RunView, group


class CalibrationView(RunView):
    """Protocol choice, start/pause/stop, progress, patient preview and the live signal."""

    def __init__(self, controller, time_scale=1.0, min_imagery_s=0.0, parent=None):
        super().__init__(controller, "calibration", time_scale, min_imagery_s, parent)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(group("Calibration run", _wrap(self.panel)), 1)
        preview = QtWidgets.QVBoxLayout()
        preview.addWidget(self.preview)
        top.addWidget(group("Patient screen (preview)", preview), 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.signal, 1)
        controller.continuationChanged.connect(self.apply_proposal)

    def apply_proposal(self, plan):
        """Set the run's length to the calibration proposed for today when it counts on the
        patient's earlier sessions (:mod:`bci_app.session.continuation`); the operator can
        change it, and the tooltip says why."""
        panel = self.panel
        if plan is None or not plan.transfer or self.controller.busy:
            return
        proto = panel._protocols.get(panel.protocol_box.currentData())
        if proto is None:
            return
        panel.trials.setValue(min(plan.trials_per_class, proto.trials_per_class))
        panel.trials.setToolTip(plan.proposal_text())


def _wrap(widget):
    layout = QtWidgets.QVBoxLayout()
    layout.addWidget(widget)
    return layout
