from deepfake_lab.nn.layers import (
    ACTIVATIONS,
    EqualizedConv2d,
    EqualizedLinear,
    PixelNorm,
    make_activation,
    minibatch_stddev,
)

__all__ = ["ACTIVATIONS", "EqualizedConv2d", "EqualizedLinear", "PixelNorm", "make_activation", "minibatch_stddev"]
