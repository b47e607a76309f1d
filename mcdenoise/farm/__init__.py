"""The render farm: noisy-pair datasets and many-pass references scheduled on Ray."""
