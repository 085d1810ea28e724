"""Turn a registry entry into a checkable function and float64 inputs.

The logic lives in the package (`autograd_core.opcheck`) so the command line
and the demo check ops exactly as these tests do.
"""

from autograd_core.opcheck import all_names, case

__all__ = ["all_names", "case"]
