"""Weights: zero-copy safetensors reading, complete binding reports, seeded random init."""

from trtdsl.weights.bind import BoundWeights as BoundWeights
from trtdsl.weights.bind import bind_weights as bind_weights
from trtdsl.weights.load import load_weights as load_weights
from trtdsl.weights.load import parse_random_spec as parse_random_spec
from trtdsl.weights.random import random_weights as random_weights
from trtdsl.weights.rename import prefix_rule as prefix_rule
from trtdsl.weights.safetensors import SafetensorsFile as SafetensorsFile
from trtdsl.weights.safetensors import TensorInfo as TensorInfo
from trtdsl.weights.safetensors import open_safetensors as open_safetensors
