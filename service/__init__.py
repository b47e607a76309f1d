"""The FastAPI service that serves a trained denoiser to artists (see the README's roadmap)."""
