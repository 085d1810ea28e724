"""The op tables, by family. Importing this package registers every op."""

from . import composite, conv, elementwise, linalg, reduce, shape, softmax  # noqa: F401
