"""The core's op tables, by family (the math ops). Importing this package registers
them; the neural-network ops (convolution, pooling, fused layers, losses) are
nn.functional's and are registered when it is imported."""

from . import (  # noqa: F401
    composite,
    elementwise,
    index,
    linalg,
    reduce,
    scan,
    shape,
    softmax,
    special,
)
