#!/usr/bin/env bash
# The GPU check of the runtime, in one command (for the device machine; no TensorRT there):
#   1. pytest -m gpu: the runner through device memory with the emulated engine
#   2. trtdsl run zoo/resnet50.yaml --weights random --backend emulated (device memory),
#      checked against --backend reference
#   3. trtdsl compare with a planted bad layer (all values marked, then --bisect)
#   4. YOLOv8n with TensorRT-RTX's NMS lowering (a WHILE loop) through device memory
# $OUT (default /tmp/trtdsl-gpu-out) gets three files: env.log, suite.log (every step's output)
# and summary.log (one verdict per step). Exit status: the number of failed steps.
# Level: "GPU without TensorRT (emulated engine through device memory)".
set -u -o pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/trtdsl-gpu-out}
LOGS=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
failed=0
step() {  # step NAME EXPECTED_STATUS COMMAND...
  local name=$1 expected=$2
  shift 2
  echo "=== $name: $*" | tee -a "$OUT/summary.log"
  local start=$SECONDS
  "$@" 2>&1 | tee "$LOGS/$name.log"
  local status=${PIPESTATUS[0]}
  cat "$LOGS/$name.log" >> "$OUT/suite.log"
  local verdict=ok
  if [ "$status" != "$expected" ]; then verdict=FAILED; failed=$((failed + 1)); fi
  echo "=== $name: exit $status (expected $expected) in $((SECONDS - start)) s: $verdict" \
    | tee -a "$OUT/summary.log"
}

{
  date -u
  nvidia-smi -L
  $PY -c "import sys, numpy, cuda.bindings; print(sys.version.split()[0], 'numpy',
numpy.__version__, 'cuda-bindings', cuda.bindings.__version__)"
  $PY -c "import tensorrt" 2>&1 | tail -1
} 2>&1 | tee "$OUT/env.log"

step pytest_gpu 0 $PY -m pytest -q -m gpu -p no:cacheprovider tests
# the CPU runtime tests again: with a GPU visible, memory="auto" picks device memory
step pytest_runtime 0 $PY -m pytest -q -p no:cacheprovider tests/test_runtime*.py \
  tests/test_compare.py
step run_reference 0 $PY -m trtdsl.cli.main run zoo/resnet50.yaml --weights random \
  --backend reference -o "$LOGS/resnet50_reference.npz"
step run_emulated 0 $PY -m trtdsl.cli.main run zoo/resnet50.yaml --weights random \
  --backend emulated -o "$LOGS/resnet50_emulated.npz"
step run_matches 0 $PY -c "
import numpy as np, sys
ref = np.load('$LOGS/resnet50_reference.npz')['logits']
emu = np.load('$LOGS/resnet50_emulated.npz')['logits']
err = float(np.abs(ref - emu).max()); scale = float(np.abs(ref).max())
same_top1 = bool((ref.argmax(1) == emu.argmax(1)).all())
print(f'resnet50 logits {ref.shape}: max abs diff {err:.3g} (max |ref| {scale:.3g}), '
      f'top-1 equal: {same_top1}')
sys.exit(0 if err <= 1e-3 * scale and same_top1 else 1)"
step compare_planted 3 $PY -m trtdsl.cli.main compare zoo/resnet50.yaml --weights random \
  --shape x=1x3x224x224 --backend emulated --memory device \
  --perturb layer3.2.conv2.weight=0.5
grep -q "first node above tolerance 0.0001: layer3.2.conv2 " "$LOGS/compare_planted.log" \
  || { echo "compare did not name layer3.2.conv2" | tee -a "$OUT/summary.log"; failed=$((failed + 1)); }
step compare_bisect 3 $PY -m trtdsl.cli.main compare zoo/resnet50.yaml --weights random \
  --shape x=1x3x224x224 --backend emulated --memory device \
  --perturb layer3.2.conv2.weight=0.5 --bisect
grep -q "first node above tolerance 0.0001: layer3.2.conv2 " "$LOGS/compare_bisect.log" \
  || { echo "bisect did not name layer3.2.conv2" | tee -a "$OUT/summary.log"; failed=$((failed + 1)); }
step bench_emulated 0 $PY -m trtdsl.cli.main bench zoo/resnet50.yaml --weights random \
  --shape x=1x3x224x224 --backend emulated --iterations 3 --warmup 1 --profile
step nms_device 0 $PY tests/gpu/nms_device.py --memory device
echo "failed steps: $failed" | tee -a "$OUT/summary.log"
exit "$failed"
