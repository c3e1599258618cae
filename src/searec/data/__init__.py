"""Datasets: the MMRec folder format, seeded splits and planted synthetic data."""

from searec.data.mmrec import DatasetError, InteractionDataset, load_mmrec_folder, write_mmrec_folder

__all__ = ["DatasetError", "InteractionDataset", "load_mmrec_folder", "write_mmrec_folder"]
