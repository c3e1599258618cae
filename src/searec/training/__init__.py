"""Training and evaluation: negative sampling, the epoch loop, checkpoints, full-ranking metrics."""
