"""nn: modules, layers, activations, losses, initialisers and checkpoints.

    import nn
    import nn.functional as F
"""

from . import functional, init, utils
from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .checkpoint import load, save
from .conv import *  # noqa: F403
from .fuse import ConvReLUMaxPool2d, FlattenLinear, LinearReLU, ReLUMaxPool2d, fuse
from .layers import *  # noqa: F403
from .loss import *  # noqa: F403
from .module import Module, ModuleList, Parameter, Sequential
from .norm import *  # noqa: F403
from .spatial import *  # noqa: F403
