#!/usr/bin/env bash
# Export the shipped detectors to ONNX (scripts/export_onnx.py) from a throwaway venv that has `onnx`.
# `onnx` needs protobuf >= 6, which breaks mediapipe: never install it into the project's .venv.
# The venv is made once at $ONNX_EXPORT_VENV (default build/onnx-venv) from the local wheels.
#   scripts/export_onnx.sh --install          # rewrite assets/detector-*.onnx and their cards
#   scripts/export_onnx.sh --names fast       # stage only, into build/onnx/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ONNX_EXPORT_VENV:-$root/build/onnx-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import onnx, onnxruntime, torch, safetensors" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.13.0 onnx==1.23.1 onnxruntime==1.30.0 safetensors numpy pyyaml pillow
fi
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" "$root/scripts/export_onnx.py" "$@"
