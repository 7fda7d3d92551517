"""Step 2, Signal check: traces with scaling/filter, channel quality, spectrum, bad channels."""

from PySide6 import QtWidgets

from ..signal import SignalCheckPanel


class SignalCheckView(QtWidgets.QWidget):
    """Live traces with controls; ticking a channel marks it bad (excluded from training)."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.panel = SignalCheckPanel(controls=True)
        hint = QtWidgets.QLabel(
            "Check every channel before recording: good (blue); flat (grey) = electrode "
            "not connected; noisy (orange-red) = bad contact or movement; no signal "
            "(orange-red) = nothing received from the amplifier; line noise (amber) = the "
            "power line frequency ('Patient & session', EEG settings) stands out of the "
            "spectrum: check the ground and reference "
            "electrodes and keep cables away from mains leads (on every channel, the "
            "decoder's band-pass removes it). Fix the electrode, or tick the channel to "
            "exclude it.")
        hint.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.panel, 1)
        controller.sourceReady.connect(
            lambda acq: self.panel.set_source(acq, controller.bad_channels))
        controller.sessionChanged.connect(lambda s: self.panel.set_bad(controller.bad_channels))
        self.panel.line_freqs = controller.mains_frequencies
        self.panel.badChanged.connect(controller.set_bad_channels)
        self.panel.filterChanged.connect(controller.set_display_filter)
