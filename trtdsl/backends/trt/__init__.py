"""The TensorRT backend: emit an IR graph into an INetworkDefinition, build, serialize.

The only package that imports ``tensorrt`` (or its emulator): see ``import_trt``.
"""

from trtdsl.backends.trt.build import BuildConfig as BuildConfig
from trtdsl.backends.trt.build import BuildProgress as BuildProgress
from trtdsl.backends.trt.build import BuildResult as BuildResult
from trtdsl.backends.trt.build import build_engine as build_engine
from trtdsl.backends.trt.build import build_network as build_network
from trtdsl.backends.trt.build import profile_shapes as profile_shapes
from trtdsl.backends.trt.context import EMITTERS as EMITTERS
from trtdsl.backends.trt.context import EmitContext as EmitContext
from trtdsl.backends.trt.context import emitter as emitter
from trtdsl.backends.trt.emit import EmittedNetwork as EmittedNetwork
from trtdsl.backends.trt.emit import emit_network as emit_network
from trtdsl.backends.trt.layers import LayerInfo as LayerInfo
from trtdsl.backends.trt.layers import format_layers as format_layers
from trtdsl.backends.trt.layers import network_layers as network_layers
from trtdsl.backends.trt.logger import CapturingLogger as CapturingLogger
from trtdsl.backends.trt.module import TensorRTMissingError as TensorRTMissingError
from trtdsl.backends.trt.module import import_trt as import_trt
from trtdsl.backends.trt.module import is_emulator as is_emulator
from trtdsl.backends.trt.prepare import prepare_for_build as prepare_for_build
from trtdsl.backends.trt.prepare import prepare_graph as prepare_graph
from trtdsl.ir.types import ShapeRange as ShapeRange
from trtdsl.ir.types import parse_shapes as parse_shapes
