"""Option groups that several commands share, and the parsing of their values.

Each ``add_*`` function adds one group of options to a command's parser, with the same
names, defaults and help everywhere. Importing this module is cheap (no NumPy, MNE or
MOABB): ``bci-app --help`` builds every command's parser.
"""

from .._utils import parse_pairs as _parse_pairs
from ..errors import UsageError
from ..processing.paradigms import PARADIGMS

#: Paradigm names of the command line (:data:`bci_app.processing.paradigms.PARADIGMS`).
PARADIGM_CHOICES = tuple(PARADIGMS)

MODELS_HELP = ("folder of model files, or one .yml file (default: the shipped models plus "
               "the user's own in $BCI_APP_HOME/models or the user data folder)")
CLUSTER_HELP = ("run the tasks on the Dask cluster of this scheduler (workers read their own "
                "MNE_DATA; --data-path is their path)")


def add_verbose(parser):
    """``-v/--verbose``: more log output (counted)."""
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")


def add_network(parser):
    """``--network``: LSL beyond this machine."""
    parser.add_argument("--network", action="store_true",
                        help="use liblsl's network configuration instead of this machine only")


def add_models(parser, only=True):
    """``--models PATH`` (and ``--only NAME...``): the model files to use."""
    parser.add_argument("--models", default=None, metavar="PATH", help=MODELS_HELP)
    if only:
        parser.add_argument("--only", nargs="+", metavar="NAME",
                            help="use only these models (by name or file stem)")


def add_paradigm(parser):
    """``--paradigm``: the class set."""
    parser.add_argument("--paradigm", default="left-right", choices=PARADIGM_CHOICES,
                        help="class set (default: %(default)s)")


def add_band(parser):
    """``--fmin/--fmax``: the band-pass, Hz."""
    parser.add_argument("--fmin", type=float, default=8.0,
                        help="band-pass low edge, Hz (default: %(default)s)")
    parser.add_argument("--fmax", type=float, default=35.0,
                        help="band-pass high edge, Hz (default: %(default)s)")


def add_data_path(parser):
    """``--data-path DIR``: the MNE data folder."""
    parser.add_argument("--data-path", default=None, metavar="DIR",
                        help="MNE data folder (default: $MNE_DATA)")


def add_dataset(parser, dataset_help):
    """Where the data come from: ``--dataset --subjects --paradigm --data-path
    --fmin --fmax``."""
    parser.add_argument("--dataset", default="PhysionetMI", help=dataset_help)
    parser.add_argument("--subjects", type=int, nargs="+", metavar="N",
                        help="subject ids (default: all of the dataset)")
    add_paradigm(parser)
    add_data_path(parser)
    add_band(parser)


def add_output(parser):
    """``--out DIR`` and ``--no-progress`` of the evaluations."""
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_cluster(parser):
    """Where the work runs: ``--scheduler ADDRESS`` or ``--local-cluster N`` (exclusive);
    neither: in this process. Read with :func:`executor_from`."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help=CLUSTER_HELP)
    where.add_argument("--local-cluster", type=int, default=None, metavar="N",
                       help="run the tasks on a Dask cluster of N local worker processes")


def executor_from(args):
    """The executor the cluster options name (:func:`add_cluster`): Dask, or this process.

    Returns
    -------
    executor : bci_app.evaluation.executors.LocalExecutor | DaskExecutor
        A context manager: the cluster is connected on entry, closed on exit.
    """
    from ..evaluation.executors import make_executor

    # An empty address or 0 workers means no cluster, as they always have.
    return make_executor(scheduler=args.scheduler or None,
                         local_cluster=args.local_cluster or None)


class EngineDefault:
    """An option default defined in :mod:`bci_app.online.engine`, read when it is used.

    The engine imports scikit-learn (seconds): building the parsers must not, so that
    ``bci-app --help`` stays instant. The value is read for a command's ``--help`` (its
    ``%(default)s``) and by :func:`decision_settings`.
    """

    def __init__(self, name):
        self.name = name

    def value(self):
        from ..online import engine

        return getattr(engine, self.name)

    def __str__(self):
        return str(self.value())


def add_decision(parser, smoothing):
    """``--smoothing N`` and ``--threshold P`` of the decision rule.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    smoothing : str
        Name of the default's constant in :mod:`bci_app.online.engine`:
        ``"ONLINE_SMOOTHING"`` (live decoding) or ``"DEFAULT_SMOOTHING"`` (evaluations).
    """
    parser.add_argument("--smoothing", type=int, default=EngineDefault(smoothing),
                        help="windows averaged by the decision rule (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=EngineDefault("DEFAULT_THRESHOLD"),
                        help="confidence below which the decision is idle "
                             "(default: %(default)s)")


def decision_settings(args):
    """``{"smoothing": int, "threshold": float}`` from :func:`add_decision`'s options.

    With ``--idle threshold``, the threshold must be able to decide idle for the classes of
    ``--paradigm`` (:func:`bci_app.online.engine.check_idle_threshold`): a UsageError if not.
    """
    def value(x):
        return x.value() if isinstance(x, EngineDefault) else x

    settings = {"smoothing": int(value(args.smoothing)),
                "threshold": float(value(args.threshold))}
    if settings["smoothing"] < 1:
        raise UsageError(f"--smoothing {settings['smoothing']}: give 1 or more windows.")
    if not 0.0 <= settings["threshold"] <= 1.0:
        raise UsageError(f"--threshold {settings['threshold']:g}: give a confidence in [0, 1].")
    if getattr(args, "idle", None) == "threshold" and getattr(args, "paradigm", None):
        from ..errors import ConfigError
        from ..online.engine import check_idle_threshold

        try:
            check_idle_threshold(settings["threshold"], len(PARADIGMS[args.paradigm][0]))
        except ConfigError as err:
            raise UsageError(str(err)) from err
    return settings


def add_event_map(parser, help):
    """``--event-map ANNOT=CLASS...``: rename a recording's annotations
    (read with :func:`parse_event_map`)."""
    parser.add_argument("--event-map", nargs="+", default=None, metavar="ANNOT=CLASS",
                        help=help)


def parse_pairs(items, option, form):
    """``["A=x", "B=y"]`` -> ``{"A": "x", "B": "y"}``.

    Parameters
    ----------
    items : list of str | None
    option : str
        The option, named in the error (e.g. ``"--event-map"``).
    form : str
        The expected form, named in the error (e.g. ``"ANNOTATION=CLASS"``).

    Raises
    ------
    UsageError
        An item without ``=``, or with an empty side.
    """
    try:
        return _parse_pairs(items, option, form)
    except ValueError as err:
        raise UsageError(str(err)) from err


def parse_event_map(items):
    """The ``--event-map`` of a command as a dict (empty when not given)."""
    return parse_pairs(items, "--event-map", "ANNOTATION=CLASS")
