"""Backends that consume a Graph: the NumPy reference, ONNX export, TensorRT (``trt/``)."""

from trtdsl.backends.onnx_export import export_onnx as export_onnx
from trtdsl.backends.reference import capture_reference as capture_reference
from trtdsl.backends.reference import run_reference as run_reference
