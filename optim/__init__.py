"""Optimizers with PyTorch's update rules and defaults, and learning-rate schedules.

Each optimizer updates the parameters' arrays in place from their `.grad`, with
the arrays' own library (numpy, CuPy, any array-API library):

    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .adaptive import Adadelta, Adagrad, RMSprop
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "lr_scheduler",
]
