"""Feature extraction speed on this CPU: our stages vs the raw encoder forward, across batch sizes.

    python benchmarks/feature_speed.py [--items 512] [--text-batches 16,64,256] [--image-batches 8,32,64]
        [--threads 2] [--workers 2]

Inputs are the embedded sample's item texts and product images (run through the data stages in a
temporary folder), repeated to --items. For each batch size it prints items per second of
* the stage's work (``embed_texts`` / ``encode_item_images``: tokenising or JPEG decoding
  and transforms in a DataLoader, the forward pass, copying out, imputation), and
* the encoder's forward pass alone on ready tensors (tokenised batches / transformed images),
so the difference is the overhead of our stage. Model loading is reported separately.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of  # noqa: E402

from searec.data.download import download_dataset  # noqa: E402
from searec.data.images import fetch_item_images  # noqa: E402
from searec.data.preprocess import PreprocessConfig, preprocess_amazon  # noqa: E402
from searec.data.registry import dataset_entry  # noqa: E402
from searec.features.image import encode_item_images, load_image_encoder  # noqa: E402
from searec.features.text import embed_texts, encode_item_texts, load_text_encoder, resolve_text_encoder  # noqa: E402


def sample_inputs(work: Path) -> tuple[list[str], list[Path]]:
    entry = dataset_entry("sample")
    download_dataset(entry, work / "raw")
    preprocess_amazon(entry, work / "raw", work / "processed", PreprocessConfig())
    items = pd.read_parquet(work / "processed" / "items.parquet").sort_values("item")
    fetch_item_images(items, work / "raw", work / "images", workers=4)
    manifest = pd.read_parquet(work / "images" / "manifest.parquet").sort_values("item")
    return items["text"].tolist(), [work / "images" / name for name in manifest["file"]]


def repeat_to(values: list, count: int) -> list:
    return (values * (count // len(values) + 1))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--text-batches", default="16,64,256")
    parser.add_argument("--image-batches", default="8,32,64")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for image decoding")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts, images = sample_inputs(Path(tempfile.mkdtemp(prefix="searec-feature-speed-")))
    texts, images = repeat_to(texts, args.items), repeat_to(images, args.items)
    print(f"{args.items} items, {args.threads} threads, {args.workers} decoding workers")

    started = time.perf_counter()
    text_model = load_text_encoder(resolve_text_encoder("all-MiniLM-L6-v2"), "cpu")
    print(f"\ntext: all-MiniLM-L6-v2, model load {time.perf_counter() - started:.1f} s (import excluded)")
    print("| batch | stage items/s | forward only items/s | stage overhead |")
    print("|---|---|---|---|")
    for batch in (int(b) for b in args.text_batches.split(",")):
        stage, _ = best_of(args.repeats, lambda b=batch: embed_texts(text_model, texts, b, True))
        tokenize = getattr(text_model, "preprocess", None) or text_model.tokenize  # renamed in newer releases
        tokenised = [tokenize(texts[i:i + batch]) for i in range(0, len(texts), batch)]

        def text_forward(batches: list = tokenised) -> None:
            with torch.inference_mode():
                for features in batches:
                    text_model.forward(dict(features))

        forward, _ = best_of(args.repeats, text_forward)
        print(f"| {batch} | {len(texts) / stage:.0f} | {len(texts) / forward:.0f} | {stage / forward - 1:+.0%} |")

    encoder = load_image_encoder()
    print(f"\nimage: {encoder.name} ({encoder.preprocessing})")
    print("| batch | stage items/s | forward only items/s | stage overhead |")
    print("|---|---|---|---|")
    from PIL import Image

    ready = torch.stack([encoder.transform(Image.open(path).convert("RGB")) for path in images])
    for batch in (int(b) for b in args.image_batches.split(",")):
        stage, _ = best_of(args.repeats, lambda b=batch: encode_item_images(images, encoder, b, args.workers))

        def forward_only(b: int = batch) -> None:
            with torch.inference_mode():
                for start in range(0, len(ready), b):
                    encoder.network(ready[start:start + b])

        forward, _ = best_of(args.repeats, forward_only)
        print(f"| {batch} | {len(images) / stage:.1f} | {len(images) / forward:.1f} | {stage / forward - 1:+.0%} |")
    print(f"\nfeature dims: text {encode_item_texts(texts[:2], device='cpu')[0].shape[1]}, "
          f"image {np.asarray(encode_item_images(images[:2], encoder, 2, 0)[0]).shape[1]}")


if __name__ == "__main__":
    main()
