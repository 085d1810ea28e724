"""erf and erfc: core ops now (autograd_core/ops/special.py), kept here by name."""

from autograd_core.ops.special import erf, erfc

__all__ = ["erf", "erfc"]
