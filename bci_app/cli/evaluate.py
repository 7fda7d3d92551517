"""``bci-app evaluate``: offline MOABB evaluation of models on local data."""

import time

from . import _options as opt

NAME = "evaluate"


def add_parser(subparsers):
    """Add ``evaluate`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="offline MOABB evaluation of models on local data",
        description="Run a MOABB evaluation of the models in a folder on a local dataset "
                    "(never downloads: each subject's files are checked first). Writes "
                    "results.csv, scores.txt (the scores, then a paired Wilcoxon test of the "
                    "best pipeline against each other one across subjects) and scores.png; "
                    "if --out cannot be written at the end, they go to a fallback folder "
                    "named in the error (exit code 1).")
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
    """Evaluate, write results.csv, scores.txt and scores.png, print the table and the
    paired tests across subjects; returns 0.

    The output folder and the dataset's name are checked before anything is computed (the
    files of each subject when the tasks resolve the dataset, before they read it).
    """
    from ..cli_common import check_output_folder, save_outputs
    from ..decoding.loading import load_models
    from ..evaluation.datasets import check_dataset_name
    from ..evaluation.distributed import evaluate_distributed
    from ..evaluation.offline import write_results
    from ..evaluation.report import format_score_table, plot_scores, score_table

    out = check_output_folder(args.out, "--out")
    check_dataset_name(args.dataset)
    specs = load_models(args.models, names=args.only)
    start = time.perf_counter()
    # The tasks resolve the dataset themselves: here, or on each worker of a cluster.
    with opt.executor_from(args) as executor:
        results = evaluate_distributed(
            specs, args.dataset, subjects=args.subjects, paradigm=args.paradigm,
            evaluation=args.evaluation, out_dir=None, n_jobs=args.n_jobs, fmin=args.fmin,
            fmax=args.fmax, data_path=args.data_path, progress=not args.no_progress,
            quiet=args.verbose < 2, executor=executor)
    text = format_score_table(score_table(results))
    title = f"{results['dataset'].iloc[0]} {args.paradigm}, {args.evaluation}"
    print(f"\n{title}: score per pipeline and subject\n")
    print(text)

    def write(folder):
        write_results(results, folder)
        (folder / "scores.txt").write_text(text + "\n", encoding="utf-8")
        plot_scores(results, folder / "scores.png", title=title)

    out = save_outputs(write, out, "the results (results.csv, scores.txt, scores.png)", NAME)
    print(f"\nresults: {out / 'results.csv'}\ntable:   {out / 'scores.txt'}\n"
          f"plot:    {out / 'scores.png'}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0
