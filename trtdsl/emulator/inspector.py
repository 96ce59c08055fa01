"""Emulated EngineInspector: TensorRT 11.x-shaped JSON about the (unfused) emulated layers.

Each emulated layer is one engine layer (the emulator fuses nothing), so ``Metadata`` is that
layer's ``ILayer.metadata`` string unchanged. Every description says it is emulated.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trtdsl.emulator.enums import LayerInformationFormat, ProfilingVerbosity
from trtdsl.emulator.plan import PlanError
from trtdsl.emulator.types import check_type

if TYPE_CHECKING:
    from trtdsl.emulator.engine import ICudaEngine, IExecutionContext


class EngineInspector:
    """Layer and engine information; set ``execution_context`` for concrete dimensions."""

    def __init__(self, engine: ICudaEngine) -> None:
        self._engine = engine
        self.execution_context: IExecutionContext | None = None

    def _shapes(self) -> dict[int, Any]:
        plan = self._engine._plan
        shapes = {k: (list(s), d) for k, (s, d) in plan.build_types.items()}
        context = self.execution_context
        if context is not None and not context._missing_inputs():
            try:
                inferred = self._engine._schedules.at(context._shapes).expected
            except PlanError:
                return shapes
            shapes.update({k: (list(s), d) for k, (s, d) in inferred.items()})
        return shapes

    def _tensor(self, tensor_id: int, shapes: dict[int, Any]) -> dict[str, Any]:
        shape, dtype = shapes[tensor_id]
        return {
            "Name": self._engine._plan.tensor_names.get(tensor_id, str(tensor_id)),
            "Location": "Device",
            "Dimensions": shape,
            "Format": "Row major linear FP32 format (kLINEAR)"
            if dtype.name == "FLOAT"
            else "Row major linear format (kLINEAR)",
            "DataType": dtype.name,
        }

    def _layer(self, index: int, shapes: dict[int, Any]) -> dict[str, Any] | str:
        layer, ins, outs = self._engine._plan.layers[index]
        verbosity = self._engine._plan.profiling_verbosity
        if verbosity == ProfilingVerbosity.NONE:
            return str(index)
        if verbosity == ProfilingVerbosity.LAYER_NAMES_ONLY:
            return layer._name
        return {
            "Name": layer._name,
            "LayerType": f"Emulated{type(layer).__name__[1:].removesuffix('Layer')}",
            "Inputs": [self._tensor(i, shapes) for i in ins],
            "Outputs": [self._tensor(o, shapes) for o in outs],
            "ParameterType": layer._TYPE_NAME,
            "TacticName": "trtdsl-emulator (NumPy)",
            "TacticValue": "0x0",
            "StreamId": 0,
            "Metadata": layer._metadata,
        }

    def get_layer_information(self, layer_index: int, format: LayerInformationFormat) -> str:
        """One layer: a JSON object with DETAILED verbosity, else its name (JSON string)."""
        check_type(format, LayerInformationFormat, "get_layer_information.format")
        check_type(layer_index, int, "get_layer_information.layer_index")
        if not 0 <= layer_index < len(self._engine._plan.layers):
            raise IndexError(f"get_layer_information: no layer {layer_index}")
        info = self._layer(layer_index, self._shapes())
        if format == LayerInformationFormat.JSON:
            return json.dumps(info)
        return info if isinstance(info, str) else json.dumps(info, separators=(",", ":"))

    def get_engine_information(self, format: LayerInformationFormat) -> str:
        """All layers and I/O tensors; the JSON also carries ``"Emulated": true``."""
        check_type(format, LayerInformationFormat, "get_engine_information.format")
        plan, shapes = self._engine._plan, self._shapes()
        layers = [self._layer(i, shapes) for i in range(len(plan.layers))]
        if format == LayerInformationFormat.ONELINE:
            return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in layers)
        io = [
            {
                "Name": t.name,
                "IOMode": "Input" if t.is_input else "Output",
                "DataType": t.dtype.name,
                "Dimensions": list(t.shape),
                "Location": "Device",
                "IsShapeInferenceIO": False,
                "ProfileInfo": [
                    {
                        "MinShape": list(lo),
                        "OptShape": list(opt),
                        "MaxShape": list(hi),
                        "Format": "Row major linear format (kLINEAR)",
                    }
                    for lo, opt, hi in t.profiles
                ],
            }
            for t in plan.io
        ]
        return json.dumps({"Emulated": True, "Layers": layers, "I/O Tensors": io})
