"""``bci-app gui``: options of the clinical application and its entry point.

The application itself is :mod:`bci_app.gui` (Qt is imported only when it starts). It
parses its own options: ``bci-app`` and ``bci-app gui ...`` go straight to :func:`main`,
without building the other commands' parsers.
"""

import argparse
import sys

from ..cli_common import EXIT_CODES_HELP, run_command
from ..errors import BCIAppError
from ..gui.autopilot_config import SIDES, AutopilotConfig
from . import _options as opt

NAME = "gui"
#: The autopilot's defaults (shown in the help).
AUTOPILOT = AutopilotConfig()


def _number(cast, low, strict):
    """An argparse type: a number of type ``cast`` >= ``low`` (> ``low`` if ``strict``)."""
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a{' whole' if cast is int else ''} number, got {text!r}") from None
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got "
                                             f"{text}")
        return value

    return parse


_positive, _count, _seed = _number(float, 0, True), _number(int, 1, False), \
    _number(int, 0, False)


def add_parser(subparsers):
    """List ``gui`` among the commands of ``bci-app`` (its options: :func:`build_parser`)."""
    return subparsers.add_parser(
        NAME, help="the clinical application (default when no command is given; "
                   "`bci-app gui --help` for its options, --autopilot for a short demo "
                   "session)", add_help=False)


def build_parser():
    """The parser of ``bci-app gui``'s options."""
    parser = argparse.ArgumentParser(
        prog="bci-app gui",
        description="The clinical application: patient & session, signal check, "
                    "calibration, training, online feedback runs, report, replay.",
        epilog=EXIT_CODES_HELP)
    parser.add_argument("--root", default="recordings", metavar="DIR",
                        help="folder where subjects and sessions are stored "
                             "(default: %(default)s)")
    parser.add_argument("--models", default=None, metavar="DIR",
                        help="folder of pipeline files (default: the shipped models plus "
                             "the user's own)")
    parser.add_argument("--autopilot", action="store_true",
                        help="run a short clinical session by itself on the simulated "
                             "amplifier (a patient, calibration of the affected hand vs "
                             "rest, training of the default model, a feedback run, report, "
                             "summary.json), then exit")
    parser.add_argument("--offscreen", action="store_true",
                        help="no window on screen (automatic when there is no display)")
    parser.add_argument("--screenshots", default=None, metavar="DIR",
                        help="save a screenshot of each view there (autopilot)")
    parser.add_argument("--time-scale", type=_positive, default=None, metavar="F",
                        help="multiply the protocols' durations by F (quick sessions; "
                             "imagery is kept long enough for the decoder window; default: "
                             f"1, the autopilot {AUTOPILOT.time_scale:g} with imagery of at "
                             f"least {AUTOPILOT.min_imagery_s:g} s)")
    parser.add_argument("--trials", type=_count, nargs=2, default=None,
                        metavar=("CALIB", "ONLINE"),
                        help="autopilot: trials per class of the calibration and online "
                             f"runs (default: {AUTOPILOT.calibration_trials} "
                             f"{AUTOPILOT.online_trials})")
    parser.add_argument("--window", type=_positive, default=None, metavar="S",
                        help="decoder window length, s (default 2; autopilot "
                             f"{AUTOPILOT.window_s:g})")
    parser.add_argument("--seed", type=_seed, default=None, metavar="N",
                        help="autopilot: seed of the simulated amplifier's signal and of the "
                             f"trial schedules (default: {AUTOPILOT.seed})")
    parser.add_argument("--affected-side", choices=SIDES, default=None,
                        help="autopilot: the simulated patient's affected side, the hand "
                             f"cued against rest (default: {AUTOPILOT.affected_side})")
    parser.add_argument("--montage", default=None,
                        help="autopilot: simulated montage (default: 22 sensorimotor "
                             "channels)")
    parser.add_argument("--network", action="store_true",
                        help="use the LSL network configuration instead of this machine "
                             "only (for real amplifiers on other computers)")
    opt.add_verbose(parser)
    return parser


def run(args):
    """Run the application with parsed options; returns its exit code."""
    try:
        from ..gui.app import run as run_app
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
            raise BCIAppError(f"the application's Qt part is not installed ({err.name}): "
                              "install it with `pip install \"bci-app[gui]\"`. The other "
                              "commands (`bci-app --help`) work without it.") from err
        raise
    code, out, err = run_app(args)
    if out:
        print(out, flush=True)
    if err:
        print(err, file=sys.stderr, flush=True)
    return code


def main(argv=None):
    """Run ``bci-app gui`` with ``argv`` (None: ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command("bci-app gui", run, args)
