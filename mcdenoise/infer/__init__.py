"""Inference: denoising frames with a trained model (denoise.py), tiling (tiling.py), and the
`denoise` command (files.py).

The tile defaults live here, torch-free, because the command line, the service and the
benchmarks all show or use them.
"""

# Tiles of at most 512 pixels bound memory (the 48-wide U-Net needs about 1.1 GB of
# activations per 512^2 tile in fp32; benchmarks/results/denoise_memory.md has the shipped
# model's peak on a 4K frame). Tiles are balanced (tiling.tile_size): a 1080p frame is 15 tiles
# of 480 x 448, and on this project's CPU that is faster than 4 tiles of 1024 x 608 (2.3 vs
# 2.5 s) as well as smaller. 96 pixels of overlap hide the missing context at tile edges.
TILE = 512
OVERLAP = 96
