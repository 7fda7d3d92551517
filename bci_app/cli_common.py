"""What every ``bci-app`` command shares: exit codes, and errors turned into messages.

Exit codes (also in ``bci-app --help`` and the README):

===  =====================================================================================
0    success
1    the command could not do its work: a bad or missing file, a stream not found or lost,
     unusable data (the message names the file, field or stream and what to do)
2    usage error: an unknown option, a missing or malformed argument
3    internal error (a defect): the message says so; ``-vv`` prints the traceback
130  interrupted (Ctrl-C)
===  =====================================================================================
"""

import sys

from ._logging import logger
from .errors import BCIAppError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

#: The table above, for ``--help`` epilogs.
EXIT_CODES_HELP = ("exit codes: 0 success; 1 error (bad file, stream or data: the message says "
                   "what to do); 2 usage error (bad command-line arguments); 3 internal error; "
                   "130 interrupted")


def run_command(prog, func, args):
    """Call ``func(args)`` and turn what it raises into a message and an exit code.

    Parameters
    ----------
    prog : str
        The command's name for messages, e.g. ``"bci-app evaluate"``.
    func : callable
        Returns the exit code.
    args : argparse.Namespace

    Returns
    -------
    code : int
    """
    try:
        return func(args)
    except UsageError as err:
        print(f"{prog}: usage error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BCIAppError as err:
        logger.debug("command failed", exc_info=True)
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a defect: say so plainly, traceback on request
        logger.debug("%s: internal error", prog, exc_info=True)  # shown with -vv
        print(f"{prog}: internal error: {type(err).__name__}: {err}\n"
              f"This is a defect of bci-app; run again with -vv for the traceback and report "
              "it.", file=sys.stderr)
        return EXIT_INTERNAL
