"""Running engines: cuda-python buffers and streams, the engine runner, benchmarks, layers.

cuda-python is imported only when device memory is used; the host-memory mode drives the
emulated engine on machines without a GPU.
"""

from trtdsl.runtime.bench import BenchResult as BenchResult
from trtdsl.runtime.bench import LatencyStats as LatencyStats
from trtdsl.runtime.bench import LayerTime as LayerTime
from trtdsl.runtime.bench import benchmark as benchmark
from trtdsl.runtime.bench import format_bench as format_bench
from trtdsl.runtime.bench import profile_layers as profile_layers
from trtdsl.runtime.cuda import CudaError as CudaError
from trtdsl.runtime.engines import EngineBackend as EngineBackend
from trtdsl.runtime.engines import LoadedEngine as LoadedEngine
from trtdsl.runtime.engines import build_in_memory as build_in_memory
from trtdsl.runtime.engines import open_engine as open_engine
from trtdsl.runtime.layers import EngineInspection as EngineInspection
from trtdsl.runtime.layers import EngineLayer as EngineLayer
from trtdsl.runtime.layers import engine_layers as engine_layers
from trtdsl.runtime.layers import inspect_engine as inspect_engine
from trtdsl.runtime.runner import EngineRunner as EngineRunner
from trtdsl.runtime.runner import IOTensor as IOTensor
from trtdsl.runtime.runner import StageTimes as StageTimes
