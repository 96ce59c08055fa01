"""Frontends: the Python DSL (ModelBuilder) and the YAML DSL."""

from trtdsl.frontend.builder import ModelBuilder as ModelBuilder
from trtdsl.frontend.builder import Tensor as Tensor
