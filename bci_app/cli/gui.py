"""``bci-app gui``: options of the clinical application and its entry point.

The application itself is :mod:`bci_app.gui` (Qt is imported only when it starts). It
parses its own options: ``bci-app`` and ``bci-app gui ...`` go straight to :func:`main`,
without building the other commands' parsers.
"""

import argparse
import sys

from ..cli_common import EXIT_CODES_HELP, run_command
from ..errors import BCIAppError
from . import _options as opt

NAME = "gui"


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
                        help="run a short session by itself on the simulated amplifier "
                             "(calibration, training, feedback run, report), then exit")
    parser.add_argument("--offscreen", action="store_true",
                        help="no window on screen (automatic when there is no display)")
    parser.add_argument("--screenshots", default=None, metavar="DIR",
                        help="save a screenshot of each view there (autopilot)")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                        help="multiply the protocols' durations by F (quick sessions; "
                             "imagery is kept long enough for one decoder window)")
    parser.add_argument("--trials", type=int, nargs=2, default=(8, 4),
                        metavar=("CALIB", "ONLINE"),
                        help="autopilot: trials per class of the calibration and online "
                             "runs (default: 8 4)")
    parser.add_argument("--window", type=float, default=None, metavar="S",
                        help="decoder window length, s (default 2; autopilot 1)")
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
