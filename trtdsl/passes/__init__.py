"""Graph rewrites: each pass takes a graph (and weights) and returns new ones."""

from trtdsl.passes.fold_bn import fold_batchnorm as fold_batchnorm
from trtdsl.passes.fold_bn import foldable_batchnorms as foldable_batchnorms
