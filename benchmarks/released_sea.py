"""The authors' released SEA code beside ours on one MMRec folder: seconds per epoch and peak RSS.

    python benchmarks/released_sea.py --released CHECKOUT --data MMREC_FOLDER [--epochs 3] [--deps DIR]
                                      [--work DIR] [--threads 1] [--skip-ours]

CHECKOUT is a clone of github.com/bruno686/SEA (issue 16 compared 00a2db0). Its ``src/`` is copied
into --work and changed only so that it runs on a CPU with this environment's libraries; each
change is printed:

* ``wandb`` is replaced by a module that does nothing (the code logs to wandb online);
* ``configs/overall.yaml``: ``use_gpu: False`` and ``epochs: --epochs``;
* ``models/sea.py``, a copy of ``models/SEA.py``: its ``get_model`` imports the lower-case name;
* ``forward`` removes the ``result_embed`` Parameter before assigning a tensor to that name, which
  torch 2 refuses ("cannot assign 'torch.FloatTensor' as parameter");
* ``--text-file`` (default ``text_feat.npy``) is given to it as ``text_feat.npy``: it reads an image
  and a text table only (TikTok's second modality is ``audio_feat.npy``);
* where the features are not Baby's 4096-d image and 384-d text (TikTok's are 128-d), SEA.py's
  hard-coded widths become the feature widths (``generalize_widths``: its GCNs are built from the raw
  feature width and fail on any other);
* a dataset config made from ``configs/dataset/baby.yaml`` for the folder's ``.inter`` file, and a
  ``user_graph_dict.npy`` that SEA.py loads (though SEA does not use it): each user's co-interacting
  users with their counts, as MMRec's DualGNN preprocessing writes it.

The released code also needs ``torch_geometric``, ``lmdb`` and ``xxhash``; if they are not
importable, install them apart (``pip install --target DIR --no-deps torch_geometric lmdb xxhash``)
and give ``--deps DIR``. Both trainings run one after the other, with --threads CPU threads (pin the
script with taskset for a fixed CPU); ours is ``searec train`` with a checkpoint after every
epoch (``--checkpoint-seconds 0``: its largest write). Printed: each run's seconds per training
epoch (from its log) and peak RSS (the child's ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RELEASED_EPOCH = re.compile(r"epoch (\d+) training \[time: ([0-9.]+)s")
OURS_EPOCH = re.compile(r"epoch (\d+): loss .*? ([0-9.]+)s(?: \||$)")


def _patch(path: Path, old: str, new: str, why: str, count: int = 1) -> None:
    """Replace ``count`` occurrences of ``old`` (all of them: exactly ``count`` must be there)."""
    text = path.read_text(encoding="utf-8")
    if text.count(old) != count:
        raise SystemExit(f"{path}: expected {count} of {old!r}, found {text.count(old)}; is this the released SEA code?")
    path.write_text(text.replace(old, new), encoding="utf-8")
    print(f"patched {path.name}: {why}")


BABY_WIDTHS = {"t": 384, "v": 4096}
"""The widths SEA.py hard-codes for E_t and E_v: Baby's text and image feature widths."""


def generalize_widths(model_file: Path, widths: dict[str, int]) -> None:
    """Make SEA.py's hard-coded Baby widths the folder's feature widths (E_m = F_m W_m, d_m × d_m).

    SEA.py projects text to 384 and image to 4096 columns and slices halves at 192 and 2,048, but
    builds each modality's GCN from the raw feature width (``GCN(..., features=self.v_feat)``,
    ``nn.Linear(features.size(1), ...)``) and feeds it E_m: on Baby the two widths agree, elsewhere
    (TikTok's 128-d features) the first batch fails on a shape mismatch. With every width set to the
    feature width, E_m is d_m × d_m as on Baby, which is how searec's SEA reads the model.
    """
    for key, width in widths.items():
        half = BABY_WIDTHS[key] // 2
        expr = f"self.{key}_feat.shape[1]"
        _patch(model_file, f"nn.Linear({expr}, {BABY_WIDTHS[key]})", f"nn.Linear({expr}, {expr})",
               f"E_{key} is {width} wide (the feature width), not {BABY_WIDTHS[key]}")
        _patch(model_file, f"ProjectHead(input_dim={half},", f"ProjectHead(input_dim={expr} // 2,",
               f"the {key} head reads the generic half: {width // 2} columns")
        _patch(model_file, f"nn.Linear({half},32)", f"nn.Linear({expr} // 2, 32)",
               f"the {key} CLUB projections read {width // 2} columns", count=2)
        _patch(model_file, f"[:, :{half}]", f"[:, :{expr} // 2]", f"the {key} generic half: columns :{width // 2}",
               count=2)
        _patch(model_file, f"[:, {half}:]", f"[:, {expr} // 2:]", f"the {key} unique half: columns {width // 2}:")


def prepare_released(checkout: Path, data: Path, work: Path, epochs: int, text_file: str) -> tuple[Path, str]:
    """The released ``src/`` under ``work`` with the CPU changes of the module doc, and the dataset name."""
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(checkout / "src", src)
    (src / "wandb.py").write_text("def init(*args, **kwargs):\n    pass\n\n\nlogin = None\n\n\n"
                                  "def log(*args, **kwargs):\n    pass\n", encoding="utf-8")
    print("added wandb.py: a wandb that does nothing")
    overall = src / "configs" / "overall.yaml"
    _patch(overall, "use_gpu: True", "use_gpu: False", "use_gpu: False")
    _patch(overall, "epochs: 1000", f"epochs: {epochs}", f"epochs: {epochs}")
    shutil.copy(src / "models" / "SEA.py", src / "models" / "sea.py")
    print("copied models/SEA.py to models/sea.py: get_model imports the lower-case module")
    _patch(src / "models" / "sea.py", "        self.result_embed = torch.cat((user_rep, item_rep), dim=0)",
           "        self._parameters.pop('result_embed', None)\n"
           "        self.result_embed = torch.cat((user_rep, item_rep), dim=0)",
           "forward drops the result_embed Parameter before assigning a tensor to that name (torch 2)")
    (inter,) = sorted(data.glob("*.inter"))
    name = "bench"
    folder = work / "data" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(inter, folder / f"{name}.inter")
    shutil.copy(data / "image_feat.npy", folder / "image_feat.npy")
    shutil.copy(data / text_file, folder / "text_feat.npy")  # the released code reads v_feat and t_feat only
    baby = (src / "configs" / "dataset" / "baby.yaml").read_text(encoding="utf-8")
    (src / "configs" / "dataset" / f"{name}.yaml").write_text(baby.replace("baby.inter", f"{name}.inter"),
                                                              encoding="utf-8")
    widths = {"t": int(np.load(folder / "text_feat.npy", mmap_mode="r").shape[1]),
              "v": int(np.load(folder / "image_feat.npy", mmap_mode="r").shape[1])}
    if widths != BABY_WIDTHS:
        generalize_widths(src / "models" / "sea.py", widths)
    write_user_graph_dict(folder / f"{name}.inter", folder / "user_graph_dict.npy")
    print(f"wrote configs/dataset/{name}.yaml and data/{name}/user_graph_dict.npy")
    return src, name


def write_user_graph_dict(inter: Path, destination: Path) -> None:
    """{user: [co-interacting users by count, descending (at most 200), their counts]} from the training rows."""
    import pandas as pd
    import scipy.sparse as sp

    frame = pd.read_csv(inter, sep="\t")
    train = frame[frame["x_label"] == 0]
    n_users, n_items = int(frame["userID"].max()) + 1, int(frame["itemID"].max()) + 1
    ratings = sp.csr_matrix((np.ones(len(train)), (train["userID"], train["itemID"])), shape=(n_users, n_items))
    shared = (ratings @ ratings.T).tolil()
    shared.setdiag(0)
    shared = shared.tocsr()
    graph = {}
    for user in range(n_users):
        start, stop = shared.indptr[user], shared.indptr[user + 1]
        order = np.argsort(-shared.data[start:stop], kind="stable")[:200]
        graph[user] = [shared.indices[start:stop][order].tolist(), shared.data[start:stop][order].tolist()]
    # The released SEA.py reads this file with np.load(..., allow_pickle=True).item(): a pickled dict is its
    # format. Written here from our own counts; nothing in searec loads it.
    np.save(destination, np.array(graph, dtype=object), allow_pickle=True)


def run_measured(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run ``command`` with its output in ``log``; (wall seconds, that process's peak RSS in MiB, from wait4)."""
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}; see {log}")
    return wall, usage.ru_maxrss / 1024


def epoch_seconds(log: Path, pattern: re.Pattern[str]) -> list[float]:
    return [float(match.group(2)) for match in pattern.finditer(log.read_text(encoding="utf-8"))]


def report(label: str, seconds: list[float], wall: float, rss: float) -> None:
    mean = sum(seconds) / len(seconds) if seconds else float("nan")
    print(f"{label:9s} {len(seconds)} epochs: {mean:6.2f} s/epoch mean (each: "
          f"{', '.join(f'{s:.2f}' for s in seconds)}), wall {wall:.0f} s, peak RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--released", type=Path, required=True, help="a checkout of github.com/bruno686/SEA")
    parser.add_argument("--data", type=Path, required=True, help="an MMRec folder (.inter, image/text_feat.npy)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--text-file", default="text_feat.npy",
                        help="the folder's file the released code gets as its text features (TikTok: audio_feat.npy)")
    parser.add_argument("--deps", type=Path, help="a folder holding torch_geometric, lmdb and xxhash")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "searec-released-sea")
    parser.add_argument("--skip-ours", action="store_true", help="time only the released code")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    src, name = prepare_released(args.released.resolve(), args.data.resolve(), args.work.resolve(), args.epochs,
                                 args.text_file)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if args.deps is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.deps.resolve()), env.get("PYTHONPATH")]))
    probe = subprocess.run([sys.executable, "-c", "import torch_geometric, lmdb"], env=env, capture_output=True,
                           text=True, check=False)
    if probe.returncode != 0:
        raise SystemExit("the released code needs torch_geometric, lmdb and xxhash: pip install --target DIR "
                         "--no-deps torch_geometric lmdb xxhash, then give --deps DIR\n" + probe.stderr[-500:])

    released_log = args.work / "released.log"
    wall, rss = run_measured([sys.executable, "main.py", "-m", "SEA", "-d", name], src, env, released_log)
    report("released", epoch_seconds(released_log, RELEASED_EPOCH), wall, rss)
    if args.skip_ours:
        return
    run = args.work / "ours-run"
    if run.exists():
        shutil.rmtree(run)
    ours_log = args.work / "ours.log"
    searec = [sys.executable, "-m", "searec", "train", "--data", str(args.data.resolve()), "--model", "sea",
              "--out", str(run), "--threads", str(args.threads), "--set", f"epochs={args.epochs}",
              "--set", "eval_every=1", "--checkpoint-seconds", "0"]
    wall, rss = run_measured(searec, args.work, env, ours_log)
    report("ours", epoch_seconds(ours_log, OURS_EPOCH), wall, rss)
    print(f"logs: {released_log}, {ours_log}")


if __name__ == "__main__":
    main()
