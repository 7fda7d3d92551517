"""Electrode montages of the simulated amplifier (a light module: no NumPy or MNE)."""

from ..errors import ConfigError

#: Default montage: 22 channels of the 10-10 system centred on the sensorimotor cortex.
DEFAULT_CHANNELS = (
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz",
)  # fmt: skip

#: Montages the simulated amplifier offers: name -> channel names.
MONTAGES = {
    "Sensorimotor, 22 channels": None,  # DEFAULT_CHANNELS
    "Whole head 10-10, 64 channels": (
        "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4",
        "C6", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "Fp1", "Fpz", "Fp2", "AF7",
        "AF3", "AFz", "AF4", "AF8", "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8",
        "FT7", "FT8", "T7", "T8", "T9", "T10", "TP7", "TP8", "P7", "P5", "P3", "P1", "Pz",
        "P2", "P4", "P6", "P8", "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz"),
}


def montage_channels(name):
    """Channel names of a simulated-amplifier montage (a key of :data:`MONTAGES`)."""
    if name not in MONTAGES:
        raise ConfigError(f"Montage {name!r}: choose one of {', '.join(MONTAGES)}.")
    chans = MONTAGES[name]
    return list(DEFAULT_CHANNELS if chans is None else chans)
