"""Training: configuration and presets, data, the loop, and the Monte Carlo task."""
