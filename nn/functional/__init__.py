"""nn.functional: the stateless forms of every layer, activation and loss."""

from .activations import *  # noqa: F403
from .attention import *  # noqa: F403
from .layers import *  # noqa: F403
from .losses import *  # noqa: F403
from .norm import *  # noqa: F403
from .spatial import *  # noqa: F403
