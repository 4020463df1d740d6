"""A small random RGB image for the VLM backend and prompt tests."""
import numpy as np


RGB = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
