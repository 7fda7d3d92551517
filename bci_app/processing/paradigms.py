"""The motor-imagery paradigms the command line offers, and their classes.

A light module (no NumPy, MNE or MOABB): the command line builds its parser from it, and
``train --file`` reads class names from it without importing MOABB.
"""

#: Paradigm choices of the command line: name -> (classes, description).
PARADIGMS = {
    "left-right": (("left_hand", "right_hand"), "imagined left vs right hand"),
    "hands-feet": (("hands", "feet"), "imagined both hands vs both feet"),
    "left-right-feet": (("left_hand", "right_hand", "feet"), "three-class imagery"),
}
