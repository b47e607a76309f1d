"""The network and what surrounds it: the U-Net, the preprocessing transform, the losses, model files."""
