"""The colours of the application: told apart with the common colour-vision deficiencies.

About one man in twelve does not tell red from green (protanopia, deuteranopia and their
milder forms), so nothing here is coded by red against green. Good and bad are blue against
orange-red; classes take the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"),
idle black. Every coded state is also written in words (the quality list, the
legends), the colour only helps. ``tests/gui/test_gui_colours.py`` checks the pairs on
simulated protanopia and deuteranopia (Viénot, Brettel & Mollon 1999).
"""

from ..processing.labels import is_idle_name

#: Okabe-Ito colours, in the order classes take them: blue, orange, bluish green, reddish
#: purple, sky blue, vermillion, yellow.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
#: Idle (rest, "no command"): black (a grey would pass for the bluish green with
#: deuteranopia).
IDLE_COLOUR = "#000000"

#: A good state (on a light background: legible as text).
GOOD = "#0072B2"
#: A bad state, and alerts (white text on it stays legible).
BAD = "#B83C00"
#: A warning: worth a look, not a fault.
WARNING = "#9A6200"
#: Text and lines of secondary importance.
NEUTRAL = "#616161"

#: Colour of each channel-quality status (:data:`bci_app.processing.quality.STATUSES`) and of
#: a channel the operator excluded.
QUALITY_COLOURS = {"good": GOOD, "line noise": WARNING, "noisy": BAD, "flat": NEUTRAL,
                   "no signal": BAD, "excluded": "#9E9E9E"}

#: The patient's feedback bar: the decision is the cued class / it is not (yet).
FEEDBACK_RIGHT = "#56B4E9"
FEEDBACK_OTHER = "#6E6E6E"


def class_colours(classes):
    """A colour per class: idle names :data:`IDLE_COLOUR`, the others :data:`CLASS_COLOURS`
    in order.

    Parameters
    ----------
    classes : sequence of str

    Returns
    -------
    colours : dict of str to str
    """
    out, k = {}, 0
    for c in classes:
        if is_idle_name(c):
            out[str(c)] = IDLE_COLOUR
        else:
            out[str(c)] = CLASS_COLOURS[k % len(CLASS_COLOURS)]
            k += 1
    return out
