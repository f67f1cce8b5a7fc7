from deepfake_lab.nn.layers import ACTIVATIONS, make_activation

__all__ = ["ACTIVATIONS", "make_activation"]
