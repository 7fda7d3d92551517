"""Settings of the autopilot session (``bci-app gui --autopilot``, ``make demo``).

No Qt here: the command line reads these defaults for its help text
(:mod:`bci_app.cli.gui`) without starting the application; the autopilot itself is
:mod:`bci_app.gui.autopilot`.

Why these values
----------------
The autopilot plays the clinical flow on the simulated amplifier (a subject of skill 0.9)
in under three minutes. ``benchmarks/autopilot_settings.py`` replays that session without
real time (same protocols, schedules, generator, training path, online decision rule and
scoring; 20 simulated sessions per setting; ``benchmarks/measured/autopilot_settings.json``):

* a decrease of mu/beta power shows in a window's variance only once most of the window
  holds it, about one window length after imagery starts (plus the 0.5 s onset of the
  desynchronisation), while every window with most of its samples in the imagery counts
  for the trial. Imagery shortened with the other phases (time scale 0.5, imagery = window
  + 1 s = 2 s, 1 s windows, 8 calibration trials per class) leaves about half of a trial's
  windows unable to show it: the default model decides 0.70 of the online trials right
  (majority chance 0.50), 0.79 with 2 s windows and 3 s of imagery;
* 6 s of imagery with the other phases shortened tenfold (fixation 0.2 s, cue 0.15 s, rest
  between trials 0.2-0.4 s, baseline 3 s) and 1 s windows: 0.95 (0.91 with 2 s windows,
  whose decisions lag more), from 4 calibration trials per class (the fewest training
  accepts), in runs of 56 s and 42 s;
* 3 online trials per class keep the whole demo under three minutes on a loaded 2-core
  machine (starting the application and the decoder's process, stopping the recorder and
  converting each run, training and the report take about a minute of it); each trial is
  then 1/6 of the trial accuracy, and the window scores (nMCC, ITR) over the whole run are
  the steadier figures.
"""

from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import ConfigError

#: Seed of the autopilot session when none is given.
DEFAULT_SEED = 1
#: Sides the simulated patient's affected hand can be on.
SIDES = ("left", "right")


@dataclass
class AutopilotConfig:
    """Settings of an autopilot session.

    Attributes
    ----------
    affected_side : {"left", "right"}
        The simulated patient's affected side: the protocols cue that hand against rest.
    calibration_protocol, online_protocol : str
        Protocols (names in ``protocols/``) of the calibration and online runs.
    calibration_runs : int
        Calibration runs recorded before training.
    calibration_trials, online_trials : int
        Trials per class of each calibration run and of the online run.
    time_scale : float
        Durations of the protocols multiplied by this (fixation, cue, rest; the baseline
        is at most 3 s), except imagery (``min_imagery_s``).
    min_imagery_s : float
        Imagery periods last at least this, s.
    window_s : float
        Decoder window, s.
    compare : tuple of str
        Pipelines trained beside the default model (:data:`bci_app.resources.DEFAULT_MODEL`)
        for comparison; the default model decodes the online run.
    seed : int
        Seed of the simulated amplifier's signal and of the runs' trial schedules.
    screenshots : Path | None
        Folder for the screenshots.
    montage : str | None
        Simulated montage (default: the first of :data:`~bci_app.gui.controller.MONTAGES`).
    subject_id : str
    age : int
    signal_check_s : float
        Seconds spent on the signal check view.
    course : bool
        Show the patient's course after the report.
    sweep : bool
        Sweep the calibration recording pseudo-online in the Replay view at the end.
    timeout_s : float
        Give up after this long.
    """

    affected_side: str = "right"
    calibration_protocol: str = "hand_vs_rest"
    online_protocol: str = "hand_vs_rest_online"
    calibration_runs: int = 1
    calibration_trials: int = 4
    online_trials: int = 3
    time_scale: float = 0.1
    min_imagery_s: float = 6.0
    window_s: float = 1.0
    compare: tuple = ("MDM", "CSP+LDA")
    seed: int = DEFAULT_SEED
    screenshots: Path | None = None
    montage: str | None = None
    subject_id: str = "DEMO"
    age: int = 57
    signal_check_s: float = 1.0
    course: bool = True
    sweep: bool = False
    timeout_s: float = 600.0

    def __post_init__(self):
        if self.affected_side not in SIDES:
            raise ConfigError(f"autopilot: affected_side must be one of {list(SIDES)}, got "
                              f"{self.affected_side!r}.")
        for name in ("calibration_runs", "calibration_trials", "online_trials"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"autopilot: {name} must be >= 1, got "
                                  f"{getattr(self, name)!r}.")
        for name in ("time_scale", "window_s", "timeout_s"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"autopilot: {name} must be > 0, got "
                                  f"{getattr(self, name)!r}.")
        if self.screenshots is not None:
            self.screenshots = Path(self.screenshots)

    def window_settings(self):
        """The keyword arguments of :func:`bci_app.gui.app.create_window` that these
        settings fix (time scale, decoder window, shortest imagery)."""
        return {"time_scale": self.time_scale, "window_s": self.window_s,
                "min_imagery_s": self.min_imagery_s}

    @classmethod
    def from_args(cls, args):
        """The settings of ``bci-app gui --autopilot`` from its parsed options
        (:func:`bci_app.cli.gui.build_parser`); an option not given keeps its default."""
        given = {
            "seed": args.seed,
            "affected_side": args.affected_side,
            "time_scale": args.time_scale,
            "window_s": args.window,
            "montage": args.montage,
            "screenshots": args.screenshots,
        }
        if args.trials is not None:
            given["calibration_trials"], given["online_trials"] = args.trials
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in given.items() if v is not None and k in names})
