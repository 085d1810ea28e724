"""The op tables, by family. Importing this package registers every op."""

from . import (  # noqa: F401
    composite,
    conv,
    elementwise,
    index,
    linalg,
    reduce,
    scan,
    shape,
    softmax,
    special,
)
