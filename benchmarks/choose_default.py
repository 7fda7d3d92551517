"""The rule that chose the default online model, applied to measured figures.

Reads the JSON of ``accuracy.py``, ``pseudo_online_scores.py`` and ``decode.py`` and prints
JSON: every candidate's ranks on the selection subjects (1-5) and its figures on the report
subjects (6-9), and the model the rule chooses.

The rule, fixed before the figures were read:

1. Candidates: every pipeline scored both offline and pseudo-online (the shipped models on
   the channels their files declare, and their sensorimotor variants), that decodes a 64-ch,
   160 Hz, 2 s window in at most 10 ms at the 95th percentile on one thread (a tenth of the
   0.1 s between decisions online; a variant counts its model's all-channel time, an upper
   bound). A model whose pseudo-online evaluation cannot reproduce its training (its file's
   ``param_grid`` is not searched there) is not a candidate.
2. On subjects 1-5 only: rank by mean within-session ROC-AUC and by mean pseudo-online nMCC.
3. The default is the lowest sum of the two ranks; a tie goes to the higher nMCC.

Subjects 6-9 are never used to choose; the default's figures are reported on them.

Models adapting online (``--adapted ACCURACY.json TRANSFER_SCORES.json``): each model's
variant with a re-centring reference that follows the signal (``"<model> | within+adapt"``,
15 s = 60 windows of 0.25 s, fixed a priori) is a candidate under the same rule: offline from
``accuracy.py --adapt 60``, pseudo-online from ``transfer_scores.py``'s ``within+adapt``, cost
from ``decode.py --adapt 60``. Like-for-like is checked, not assumed: the transfer run's
``within`` figures must equal the pseudo-online run's, subject by subject, for every model
taken from it (same split, windows, band and scoring), else the script stops.

Usage: python benchmarks/choose_default.py ACCURACY.json PSEUDO_ONLINE.json DECODE.json
           [--adapted ACCURACY_ADAPT.json TRANSFER_SCORES.json]
"""

import argparse
import json
import sys
from pathlib import Path

from _common import ADAPT_SUFFIX, dump

MAX_P95_MS = 10.0


def base_name(name):
    """``"TS+LR [sensorimotor]"`` -> ``"TS+LR"``."""
    return name.split(" [", 1)[0]


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def adapted_figures(acc_adapt, transfer, po):
    """The offline and pseudo-online figures of the adapting variants, after checking that
    the transfer run's ``within`` rows are the pseudo-online run's (like-for-like).

    Returns
    -------
    acc, po : dict, dict
        Keyed ``"<model> | within+adapt"``.

    Raises
    ------
    SystemExit
        A model's ``within`` figures differ between the two runs.
    """
    out_po = {}
    for name, row in transfer.items():
        if not name.endswith(ADAPT_SUFFIX):
            continue
        model = name[:-len(ADAPT_SUFFIX)]
        within = transfer.get(f"{model} | within", {}).get("per_subject_nmcc")
        if model not in po or within != po[model]["per_subject_nmcc"]:
            sys.exit(f"choose_default: the transfer run's '{model} | within' nMCC per subject "
                     f"({within}) is not the pseudo-online run's "
                     f"({po.get(model, {}).get('per_subject_nmcc')}): not like-for-like; "
                     "run both with the same settings.")
        out_po[name] = row
    return {n: r for n, r in acc_adapt.items() if n.endswith(ADAPT_SUFFIX)}, out_po


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accuracy")
    parser.add_argument("pseudo_online")
    parser.add_argument("decode")
    parser.add_argument("--adapted", nargs=2, metavar=("ACCURACY_ADAPT", "TRANSFER_SCORES"),
                        default=None)
    args = parser.parse_args()
    acc = read(args.accuracy)["pipelines"]
    po = read(args.pseudo_online)["pipelines"]
    decode = read(args.decode)
    if args.adapted:
        more_acc, more_po = adapted_figures(read(args.adapted[0])["pipelines"],
                                            read(args.adapted[1])["pipelines"], po)
        acc, po = {**acc, **more_acc}, {**po, **more_po}
    cost = decode["configs"]["64ch_160Hz_2s"]["models_predict_per_window"]
    rows, excluded = {}, {}
    for name in sorted(set(acc) & set(po)):
        p95 = cost.get(name, cost.get(base_name(name), {})).get("p95_ms")
        if "note" in po[name]:
            excluded[name] = po[name]["note"]
        elif p95 is None or p95 > MAX_P95_MS:
            excluded[name] = f"p95 decode time {p95} ms > {MAX_P95_MS} ms"
        else:
            rows[name] = {"channels": acc[name]["channels"], "p95_ms_64ch": p95,
                          "roc_auc_1_5": acc[name]["mean_subjects_1_5"],
                          "nmcc_1_5": po[name]["mean_subjects_1_5"]["nmcc"]}
    for key in ("roc_auc_1_5", "nmcc_1_5"):
        for row in rows.values():  # equal scores share the better rank
            row[f"rank_{key}"] = 1 + sum(other[key] > row[key] for other in rows.values())
    for row in rows.values():
        row["rank_sum"] = row["rank_roc_auc_1_5"] + row["rank_nmcc_1_5"]
    ranked = sorted(rows, key=lambda n: (rows[n]["rank_sum"], -rows[n]["nmcc_1_5"]))
    for name in ranked:
        rows[name]["report_roc_auc_6_9"] = acc[name].get("mean_subjects_6_9")
        rows[name]["report_nmcc_6_9"] = po[name].get("mean_subjects_6_9", {}).get("nmcc")
        rows[name]["report_shuffled_nmcc_6_9"] = po[name].get(
            "mean_subjects_6_9", {}).get("shuffled_nmcc")
    dump({"benchmark": "choose_default", "rule": __doc__.split("The rule")[1].split(
              "Usage")[0].strip(), "inputs": [args.accuracy, args.pseudo_online, args.decode,
                                              *(args.adapted or ())],
          "chosen": ranked[0] if ranked else None,
          "candidates": {n: rows[n] for n in ranked}, "excluded": excluded})


if __name__ == "__main__":
    main()
