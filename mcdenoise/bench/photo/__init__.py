"""`bench photo`: the paper's photographic experiments (images, noise, baselines, report)."""
