"""deepfake-lab: generate and detect deepfakes on a plain CPU."""

__version__ = "0.1.0"
