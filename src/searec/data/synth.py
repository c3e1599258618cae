"""Synthetic MMRec folders with PLANTED structure, for tests, benchmarks and the default pipeline.

Generative story (all draws from one seeded generator):

* Items belong to latent clusters and carry a lognormal popularity (a long tail, as in Amazon).
  Each item also has an image-only "style" and a text-only "style" attribute.
* A cluster has a latent code c ∈ R^16. The image modality sees code dims 0..11, the text
  modality dims 4..15: dims 4..11 are *generic* (shared by both modalities), 0..3 are unique to
  the image, 12..15 unique to the text — the split SEA's argument is about. Each modality also
  encodes its own style, and isotropic noise.
* A user has a Dirichlet preference over clusters (concentrated on a few) and over each style.
  A user's items are drawn without replacement with probability
  ∝ pref_cluster[c(i)] · pref_image_style[s_v(i)]^γ · pref_text_style[s_t(i)]^γ · popularity(i)
  (Gumbel top-k), at least 5 per user; every item is used at least once.
* The split is PROTOCOL.md's seeded per-user rule.

Because preferences depend on item content that the features encode, content-aware models
can generalise where ID-only models only see co-occurrence: they must beat them here.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from searec.data.mmrec import write_mmrec_folder
from searec.data.split import per_user_split
from searec.fileio import atomic_path, write_json_atomic
from searec.runtime import split_run_facts

log = logging.getLogger(__name__)

CODE_DIM = 16
IMAGE_CODE_DIMS = slice(0, 12)
TEXT_CODE_DIMS = slice(4, 16)
STYLE_DIM = 4
MIN_USER_INTERACTIONS = 5
USER_CHUNK = 1024


@dataclass(frozen=True)
class SynthConfig:
    """Shape and strength of the planted structure."""

    n_users: int
    n_items: int
    image_dim: int = 128
    text_dim: int = 64
    seed: int = 0
    n_clusters: int = 0  # 0 = about sqrt(n_items) / 2, at least 2
    n_styles: int = 4
    mean_interactions: float = 8.3  # Amazon Baby 5-core: 160,792 / 19,445
    cluster_concentration: float = 0.3
    style_strength: float = 1.0
    popularity_sigma: float = 1.0
    feature_noise: float = 1.0

    def resolved_clusters(self) -> int:
        return self.n_clusters or max(2, int(round(np.sqrt(self.n_items) / 2)))


def _validate(config: SynthConfig) -> None:
    if config.n_users < 1 or config.n_items < 2 * MIN_USER_INTERACTIONS:
        raise ValueError(f"need at least 1 user and {2 * MIN_USER_INTERACTIONS} items, got "
                         f"{config.n_users} users and {config.n_items} items")
    if config.mean_interactions < MIN_USER_INTERACTIONS:
        raise ValueError(f"mean_interactions must be >= {MIN_USER_INTERACTIONS}, got {config.mean_interactions}")
    if config.image_dim < 1 or config.text_dim < 1:
        raise ValueError("feature dimensions must be positive")


def _sample_interactions(
    rng: np.random.Generator, config: SynthConfig, item_log_weight_parts: tuple[np.ndarray, ...],
    user_parts: tuple[np.ndarray, ...], activity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gumbel top-k sampling without replacement, user chunk by user chunk."""
    item_cluster, image_style, text_style, log_popularity = item_log_weight_parts
    log_cluster_pref, log_image_pref, log_text_pref = user_parts
    all_users: list[np.ndarray] = []
    all_items: list[np.ndarray] = []
    for start in range(0, config.n_users, USER_CHUNK):
        stop = min(start + USER_CHUNK, config.n_users)
        logits = (log_cluster_pref[start:stop][:, item_cluster]
                  + config.style_strength * log_image_pref[start:stop][:, image_style]
                  + config.style_strength * log_text_pref[start:stop][:, text_style]
                  + log_popularity[None, :])
        logits += rng.gumbel(size=logits.shape)
        want = activity[start:stop]
        top = int(want.max())
        candidates = np.argpartition(-logits, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(logits, candidates, axis=1), axis=1)
        ranked = np.take_along_axis(candidates, order, axis=1)
        keep = np.arange(top)[None, :] < want[:, None]
        rows, cols = np.nonzero(keep)
        all_users.append(rows + start)
        all_items.append(ranked[rows, cols])
    return np.concatenate(all_users), np.concatenate(all_items)


def generate(config: SynthConfig) -> dict[str, np.ndarray]:
    """Draw a planted dataset; returns interaction arrays, split labels, features and the truth."""
    _validate(config)
    rng = np.random.default_rng(config.seed)
    n_clusters = config.resolved_clusters()
    item_cluster = rng.permutation(np.arange(config.n_items) % n_clusters)
    image_style = rng.integers(0, config.n_styles, config.n_items)
    text_style = rng.integers(0, config.n_styles, config.n_items)
    log_popularity = rng.normal(0.0, config.popularity_sigma, config.n_items)

    log_cluster_pref = np.log(rng.dirichlet(np.full(n_clusters, config.cluster_concentration), config.n_users) + 1e-12)
    log_image_pref = np.log(rng.dirichlet(np.full(config.n_styles, 0.5), config.n_users) + 1e-12)
    log_text_pref = np.log(rng.dirichlet(np.full(config.n_styles, 0.5), config.n_users) + 1e-12)
    extra = max(config.mean_interactions - MIN_USER_INTERACTIONS, 0.0)
    activity = MIN_USER_INTERACTIONS + rng.geometric(1.0 / (extra + 1.0), config.n_users) - 1
    activity = np.minimum(activity, config.n_items // 2)

    users, items = _sample_interactions(
        rng, config, (item_cluster, image_style, text_style, log_popularity),
        (log_cluster_pref, log_image_pref, log_text_pref), activity,
    )
    # Every item index must exist in the .inter file: give each unused item to a random user.
    unused = np.setdiff1d(np.arange(config.n_items), items)
    if unused.size:
        users = np.concatenate([users, rng.integers(0, config.n_users, unused.size)])
        items = np.concatenate([items, unused])
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    labels = per_user_split(users, config.seed)

    cluster_codes = rng.normal(size=(n_clusters, CODE_DIM))
    image_style_codes = rng.normal(size=(config.n_styles, STYLE_DIM))
    text_style_codes = rng.normal(size=(config.n_styles, STYLE_DIM))

    def modality(code_dims: slice, style_codes: np.ndarray, style: np.ndarray, dim: int) -> np.ndarray:
        latent = np.concatenate([cluster_codes[item_cluster][:, code_dims], style_codes[style]], axis=1)
        projection = rng.normal(scale=1.0 / np.sqrt(latent.shape[1]), size=(latent.shape[1], dim))
        noise = rng.normal(scale=config.feature_noise, size=(config.n_items, dim))
        return (latent @ projection + noise).astype(np.float32)

    image = modality(IMAGE_CODE_DIMS, image_style_codes, image_style, config.image_dim)
    text = modality(TEXT_CODE_DIMS, text_style_codes, text_style, config.text_dim)
    return {
        "users": users, "items": items, "labels": labels,
        "image": image, "text": text,
        "item_cluster": item_cluster, "image_style": image_style, "text_style": text_style,
        "log_popularity": log_popularity,
    }


def write_synthetic_folder(out: str | Path, config: SynthConfig, name: str | None = None) -> Path:
    """Generate and write an MMRec folder, a ``planted.npz`` with the truth and a ``manifest.json``."""
    out = Path(out)
    name = name or out.name
    data = generate(config)
    write_mmrec_folder(out, name, data["users"], data["items"], data["labels"],
                       features={"image": data["image"], "text": data["text"]})
    truth = {key: data[key] for key in ("item_cluster", "image_style", "text_style", "log_popularity")}

    with atomic_path(out / "planted.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **truth)
    counts = np.bincount(data["labels"], minlength=3)
    manifest = {
        "generator": "searec synth",
        "config": asdict(config) | {"n_clusters": config.resolved_clusters()},
        "counts": {"users": config.n_users, "items": config.n_items, "interactions": int(data["users"].size),
                   "train": int(counts[0]), "valid": int(counts[1]), "test": int(counts[2])},
        "files": [f"{name}.inter", "image_feat.npy", "text_feat.npy", "planted.npz"],
    }
    write_json_atomic(out / "manifest.json", split_run_facts(out, manifest))
    log.info("wrote %s: %d users, %d items, %d interactions (train %d / valid %d / test %d)", out, config.n_users,
             config.n_items, data["users"].size, counts[0], counts[1], counts[2])
    return out
