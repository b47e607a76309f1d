"""mcdenoise: a Noise2Noise Monte Carlo rendering denoiser, with its render farm and service."""
__version__ = "0.1.0"
