"""``bci-app evaluate``: offline MOABB evaluation of models on local data."""

import time
from pathlib import Path

from . import _options as opt

NAME = "evaluate"


def add_parser(subparsers):
    """Add ``evaluate`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="offline MOABB evaluation of models on local data",
        description="Run a MOABB evaluation of the models in a folder on a local dataset "
                    "(never downloads). Writes results.csv, scores.txt and scores.png.")
    opt.add_dataset(p, "PhysionetMI, SyntheticMI, or a MOABB dataset class name with local "
                       "files (default: %(default)s)")
    p.add_argument("--evaluation", default="within-session",
                   choices=["within-session", "cross-session", "cross-subject"])
    opt.add_models(p)
    opt.add_output(p)
    p.add_argument("--n-jobs", type=int, default=1, help="parallel jobs (per task)")
    opt.add_cluster(p)
    opt.add_verbose(p)
    return p


def run(args):
    """Evaluate, write results.csv, scores.txt and scores.png, print the table; returns 0."""
    from ..decoding.loading import load_models
    from ..evaluation.distributed import evaluate_distributed
    from ..evaluation.report import format_score_table, plot_scores, score_table

    specs = load_models(args.models, names=args.only)
    out = Path(args.out)
    start = time.perf_counter()
    # The tasks resolve the dataset themselves: here, or on each worker of a cluster.
    with opt.executor_from(args) as executor:
        results = evaluate_distributed(
            specs, args.dataset, subjects=args.subjects, paradigm=args.paradigm,
            evaluation=args.evaluation, out_dir=out, n_jobs=args.n_jobs, fmin=args.fmin,
            fmax=args.fmax, data_path=args.data_path, progress=not args.no_progress,
            quiet=args.verbose < 2, executor=executor)
    table = score_table(results)
    text = format_score_table(table)
    (out / "scores.txt").write_text(text + "\n", encoding="utf-8")
    title = f"{results['dataset'].iloc[0]} {args.paradigm}, {args.evaluation}"
    png = plot_scores(results, out / "scores.png", title=title)
    print(f"\n{title}: score per pipeline and subject\n")
    print(text)
    print(f"\nresults: {out / 'results.csv'}\ntable:   {out / 'scores.txt'}\nplot:    {png}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0
