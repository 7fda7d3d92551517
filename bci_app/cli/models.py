"""``bci-app models``: list the models of a folder and check their files."""

from ..cli_common import EXIT_OK
from . import _options as opt

NAME = "models"


def add_parser(subparsers):
    """Add ``models`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(NAME, help="list the models of a folder and check their files")
    opt.add_models(p, only=False)
    opt.add_verbose(p)
    return p


def run(args):
    """Print one line per model (name, file, steps, grid) and where they come from."""
    from ..decoding.loading import load_models
    from ..resources import search_path

    for spec in load_models(args.models):
        steps = " -> ".join(type(s).__name__ for _, s in spec.pipeline.steps)
        grid = f"  [grid: {', '.join(spec.param_grid)}]" if spec.param_grid else ""
        print(f"{spec.name:<22} {spec.path.name:<24} {steps}{grid}")
    where = [args.models] if args.models else search_path("models")
    print(f"\nfrom {' + '.join(str(w) for w in where)}")
    return EXIT_OK
