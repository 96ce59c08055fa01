"""Mapping engine layers back to DSL nodes, and parsing the inspector's JSON (10.x and 11.x)."""

from __future__ import annotations

import json
import types

import pytest

from trtdsl.errors import BackendError
from trtdsl.runtime.layers import engine_layers, node_names

NODES = ["conv1", "relu", "layer1.0.conv1", "layer1.0.relu", "fc"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv1", ("conv1",)),
        ("conv1 + relu", ("conv1", "relu")),
        ("conv1\x1erelu", ("conv1", "relu")),
        ("fc/matmul", ("fc",)),
        ("Reformatting CopyNode for Input Tensor 0 to conv1", ("conv1",)),
        ("{ForeignNode[relu...layer1.0.relu]}", ("relu", "layer1.0.conv1", "layer1.0.relu")),
        ("unknown_layer", ()),
    ],
)
def test_node_names_with_known_nodes(text: str, expected: tuple[str, ...]) -> None:
    assert node_names(text, NODES) == expected


def test_node_names_without_a_model_keep_every_name() -> None:
    assert node_names("a.b + c/bias") == ("a.b", "c")


class _Inspector:
    def __init__(self, info: object) -> None:
        self.info = info
        self.execution_context = None

    def get_engine_information(self, fmt: object) -> str:
        return self.info if isinstance(self.info, str) else json.dumps(self.info)


class _Engine:
    def __init__(self, info: object) -> None:
        self.info = info

    def create_engine_inspector(self) -> _Inspector:
        return _Inspector(self.info)


_TRT = types.SimpleNamespace(LayerInformationFormat=types.SimpleNamespace(JSON="json"))


def test_parses_11x_layers_with_metadata() -> None:
    info = {
        "Layers": [
            {
                "Name": "conv1 + relu",
                "LayerType": "CaskConvolution",
                "Metadata": "conv1\x1erelu",
                "Inputs": [
                    {"Name": "x", "Dimensions": [1, 3, 8, 8], "Format": "NCHW", "DataType": "FP32"}
                ],
                "Outputs": [{"Name": "relu", "Dimensions": [1, 4, 8, 8], "Format": "NCHW"}],
                "TacticName": "sm90_xmma_fprop",
                "TacticValue": "0x1234",
            },
            "fc",  # LAYER_NAMES_ONLY entry
        ]
    }
    layers = engine_layers(_Engine(info), _TRT, known=NODES)  # type: ignore[arg-type]
    assert layers[0].nodes == ("conv1", "relu")
    assert layers[0].tactic == "sm90_xmma_fprop (0x1234)"
    assert layers[0].inputs[0].dimensions == "1x3x8x8" and layers[0].inputs[0].dtype == "FP32"
    assert layers[1].name == "fc" and layers[1].nodes == ("fc",) and layers[1].layer_type == ""


def test_parses_10x_format_datatype_field() -> None:
    info = {
        "Layers": [{"Name": "fc", "Inputs": [{"Name": "x", "Format/Datatype": "Row major FP16"}]}]
    }
    (layer,) = engine_layers(_Engine(info), _TRT)  # type: ignore[arg-type]
    assert layer.inputs[0].format == "Row major FP16"


def test_invalid_inspector_json_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="engine inspector returned invalid JSON"):
        engine_layers(_Engine("not json"), _TRT)  # type: ignore[arg-type]
