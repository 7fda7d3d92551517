"""The GUI's colours are told apart with red-green colour blindness: good against bad, class
against class. Colour-vision deficiencies are simulated by Viénot, Brettel & Mollon (1999)
(protanopia and deuteranopia, linear RGB), differences measured in CIE L*a*b* (ΔE 1976)."""

import itertools

import numpy as np
import pytest
from PySide6 import QtGui

from bci_app.gui import palette

#: Viénot et al. 1999, linear RGB -> the colour a dichromat sees.
VISION = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.11238, 0.88762, 0.0], [0.11238, 0.88762, 0.0],
                            [0.00401, -0.00401, 1.0]]),
    "deuteranopia": np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0],
                              [-0.02234, 0.02234, 1.0]]),
}
#: Smallest ΔE between two colours that code different things (about a third of the
#: distance between black and mid grey).
APART = 30.0


def _linear(colour):
    c = np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)]) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(rgb):
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ np.clip(rgb, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def difference(a, b):
    """The smallest ΔE between two colours over normal vision and the two dichromacies."""
    return min(float(np.linalg.norm(_lab(m @ _linear(a)) - _lab(m @ _linear(b))))
               for m in VISION.values())


def test_red_against_green_is_not_told_apart_by_this_measure():
    # The former quality colours (good green, noisy red): ΔE 17 with deuteranopia.
    assert difference("#2e7d32", "#c62828") < APART
    assert difference("#000000", "#ffffff") > 99


@pytest.mark.parametrize("bad", ["line noise", "noisy", "flat", "no signal", "excluded"])
def test_good_and_every_other_channel_status_are_told_apart(bad):
    assert difference(palette.QUALITY_COLOURS["good"], palette.QUALITY_COLOURS[bad]) > APART


def test_classes_and_feedback_are_told_apart():
    colours = palette.class_colours(["rest", "left_hand", "right_hand", "feet"])
    assert colours["rest"] == palette.IDLE_COLOUR
    for a, b in itertools.combinations(colours, 2):
        assert difference(colours[a], colours[b]) > APART, (a, b)
    assert difference(palette.FEEDBACK_RIGHT, palette.FEEDBACK_OTHER) > APART
    assert difference(palette.GOOD, palette.BAD) > APART


def test_the_widgets_use_the_palette(window):
    from bci_app.gui.signal import QualityPanel

    # Channel quality list.
    panel = QualityPanel()
    panel.set_channels(["C3", "C4"])
    nan = np.full(2, np.nan)
    panel.set_quality(["C3", "C4"], {"status": ["good", "noisy"], "std_uv": np.ones(2),
                                     "line_uv": nan})
    shown = [panel.item(i).foreground().color().name() for i in range(2)]
    assert shown == [palette.GOOD.lower(), palette.BAD.lower()]
    # Decoder output curves of the online view: one colour per class, rest black.
    from bci_app.online.engine import Predictions

    online = window.show_step("Online")
    classes = np.array(["idle", "left_hand", "right_hand"])
    proba = np.full((1, 3), 1 / 3)
    window.controller.predictions.emit(Predictions(
        np.zeros(1), np.zeros(1, int), proba, proba, classes[:1], classes[:1], classes,
        np.zeros(1)))
    pens = {c: curve.opts["pen"].color().name() for c, curve in online._curves.items()}
    assert pens == {c: v.lower() for c, v in palette.class_colours(classes).items()}
    # The patient's feedback bar when the decision is the cued class.
    from bci_app.gui.patient import PatientCanvas

    canvas = PatientCanvas()
    canvas.resize(400, 300)
    canvas.set_state("imagery", "right_hand", feedback=True)
    canvas.set_feedback(1.0, correct=True)
    image = canvas.grab().toImage()
    # The bar runs right from the centre (200, 150), 0.12 to 0.19 of the height (300)
    # below it (ARROWS: right_hand = (1, 0)).
    pixel = QtGui.QColor(image.pixel(260, int(150 + 300 * 0.155)))
    assert pixel.name() == palette.FEEDBACK_RIGHT.lower()
    canvas.set_feedback(1.0, correct=False)
    pixel = QtGui.QColor(canvas.grab().toImage().pixel(260, int(150 + 300 * 0.155)))
    assert pixel.name() == palette.FEEDBACK_OTHER.lower()
