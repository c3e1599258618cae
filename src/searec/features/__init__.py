"""Item feature extraction: text and image encoders, Amazon's CNN features -> float32 [n_items, d] arrays."""
