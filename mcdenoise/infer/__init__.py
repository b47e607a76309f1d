"""Inference: denoising frames with a trained model (denoise.py), tiling (tiling.py), and the
`denoise` command (files.py).

The tile defaults live here, torch-free, because the command line, the service and the
benchmarks all show or use them.
"""

# Tiles of at most 768 pixels bound memory (the 48-wide U-Net needs about 1.1 GB of
# activations per 512^2 tile in fp32, 2.5 GB at 768^2; benchmarks/results/denoise_memory.md
# has the shipped model's peak on a 4K frame). Tiles are balanced (tiling.tile_size): a 1080p
# frame is 6 tiles of 704 x 576, which compute 1.17 times the frame's pixels where the
# earlier 512-pixel tiles with 96 of overlap computed 1.56 times (15 tiles of 480 x 448);
# larger tiles were not faster, since a tile's activations then leave the CPU's caches. At
# least 64 pixels of overlap hide the missing context at tile edges: the tiled 1080p frame
# is within 67.8 dB PSNR of the whole frame denoised at once (benchmarks/results/cpu_speed.md).
TILE = 768
OVERLAP = 64
# OpenVINO runs larger tiles faster (it keeps fewer activations alive): a 1080p frame is one
# row of two 1024 x 1088 tiles, 0.69 of OIDN high's time with the 16-wide model against 0.82
# with 768-pixel tiles (0.86 against 0.92 with the 24-wide one), and within 97 dB of the whole frame (cpu_speed.md, 2026-12-07).
TILE_OPENVINO = 1088

# What runs the network: torch, OpenVINO's CPU plugin, or auto (the default everywhere:
# OpenVINO on the CPU when the package imports, else torch).
ENGINES = ("auto", "torch", "openvino")
ENGINE_HELP = ("what runs the network: auto (OpenVINO on the CPU when installed, else torch), "
               "torch, or openvino (CPU only; a model is converted on first use and cached)")

# Self-ensemble sizes (infer/ensemble.py): the network averaged over N symmetric copies.
ENSEMBLE_SIZES = (1, 2, 4, 8)
ENSEMBLE_HELP = ("average the network over N flipped/transposed copies of each frame, for N "
                 "times its time: 8 gained about 0.3 dB on the benchmark scenes "
                 "(benchmarks/results/mc.md); 1: one pass")


def ensemble_problem(n: int) -> str | None:
    """What is wrong with ``n`` as an ensemble size, or None when it is one."""
    if n in ENSEMBLE_SIZES:
        return None
    return f"--ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}, not {n}"
