"""Re-pin tests/data/shipped_model_golden.npz when a new default model is shipped:

    .venv/bin/python tests/data/pin_shipped_golden.py

The shipped model's output on test_shipped_model.golden_frame(), with its plain network (the
torch engine without widened heads), for each case that test checks.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "infer")]

from mcdenoise.infer.denoise import Denoiser, denoise  # noqa: E402
from mcdenoise.nn.modelfile import default_model_path, load_model  # noqa: E402
from test_shipped_model import CASES, GOLDEN, golden_frame  # noqa: E402


def main() -> None:
    model, transform, card = load_model(default_model_path())
    plain = Denoiser(model.eval(), transform, card)
    outputs = {key: denoise(plain, golden_frame(), **options).color for key, options in CASES}
    np.savez_compressed(GOLDEN, **outputs)
    print(f"wrote {GOLDEN}: {', '.join(outputs)}")


if __name__ == "__main__":
    main()
