"""Inference: denoising frames with a trained model, tiling, and the `denoise` command."""
