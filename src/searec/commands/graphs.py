"""``searec graphs``: the graph artifacts of one MMRec folder."""

from __future__ import annotations

import argparse
import json

from searec.commands.datasets import data_params
from searec.sections import section


def cmd_graphs(args: argparse.Namespace) -> int:
    from searec.data.mmrec import load_mmrec_folder
    from searec.graphs import write_graph_artifacts
    from searec.layout import graphs_dir, mmrec_dir

    params = data_params(args.params)  # any MMRec folder under data/mmrec (registry or synthetic dataset)
    settings = section(params, "graphs")
    knn_ks = settings["knn_k"]
    dataset = load_mmrec_folder(mmrec_dir(args.dataset, args.root))
    manifest = write_graph_artifacts(graphs_dir(args.dataset, args.root), dataset.n_users, dataset.n_items,
                                     dataset.train.users, dataset.train.items, dict(dataset.features),
                                     [int(k) for k in knn_ks], int(settings["user_user_k"]), dataset.source_files)
    for entry in manifest["graphs"]:
        print(json.dumps({k: entry[k] for k in ("file", "kind", "k", "shape", "nnz")}))
    return 0
