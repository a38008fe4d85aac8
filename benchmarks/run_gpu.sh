#!/usr/bin/env bash
# The GPU benchmark record of benchmarks/README.md: `mi-ssl bench` on one CUDA device, about 3-5 minutes.
#
#   MI_SSL_COMMIT=<commit> TAG=h100 bash benchmarks/run_gpu.sh OUT_DIR      # from the repository root
#
# Needs python with torch + torchvision (any recent version, CUDA build) and the package's other dependencies
# (numpy, pandas, scipy, ...: pyproject.toml; a stock GPU image has them): the package runs from the
# source tree (PYTHONPATH), nothing is installed, and no data set files are read (--synthetic: random
# CIFAR-shaped uint8 images; throughput does not depend on pixel values). Writes into OUT_DIR:
#   $TAG-main.{json,md,log}             nine methods x three pipelines, batch 512, paper hyper-parameters,
#                                       FLOPs, peak memory, projected 1,000-epoch time, linear-probe timing
#   $TAG-compile-views.{json,md,log}    JMI and SDMI again with the view maker compiled (--compile-views)
#   $TAG-cudnn-benchmark.{json,md,log}  only with CUDNN=1: JMI and SDMI with torch.backends.cudnn.benchmark on
#   $TAG-compile.{json,md,log}          only with COMPILE=1: JMI with torch.compile (adds 1-2 minutes)
#   $TAG-env.txt                        python, torch, CUDA, device, CPU count
# Each stage has a hard time limit; the JSON record is rewritten after every method, so a stage cut
# short still leaves what it measured ("complete": false), and its markdown is rendered from that.
set -uo pipefail

out=${1:?usage: bash benchmarks/run_gpu.sh OUT_DIR}
out=$(mkdir -p "$out" && cd "$out" && pwd)
tag=${TAG:-gpu}
py=${PYTHON:-$(command -v python3 || command -v python)}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$py" - <<'EOF' | tee "$out/$tag-env.txt"
import os, platform, torch, torchvision
print("python", platform.python_version(), "| torch", torch.__version__, "| torchvision", torchvision.__version__,
      "| CUDA", torch.version.cuda, "| device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
      "| cpus", os.cpu_count())
EOF

common=(--device cuda --dataset cifar10 --synthetic --profile paper --batch-size 512 --steps 60 --warmup 15)
# BENCH_ARGS (optional) is appended to every stage, e.g. to try the script on a CPU with tiny settings
read -r -a extra <<< "${BENCH_ARGS:-}"
common+=("${extra[@]}")

stage() {  # stage NAME SECONDS ARGS...: run one benchmark under a time limit; render markdown if it was cut short
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$py" -m mi_ssl.bench "${common[@]}" "$@" \
        --out "$out/$tag-$name.json" --markdown "$out/$tag-$name.md" 2>&1 | tee "$out/$tag-$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" != 0 ] && [ -f "$out/$tag-$name.json" ]; then
        "$py" -c "import json, sys; from mi_ssl.bench import to_markdown; \
open(sys.argv[2], 'w').write(to_markdown(json.load(open(sys.argv[1]))))" "$out/$tag-$name.json" "$out/$tag-$name.md"
    fi
    echo "stage $name: exit code $rc"
    return "$rc"
}

stage main 330 --probe
rc=$?
# the view maker compiled into fused kernels (its graph compiles during the warm-up)
stage compile-views 180 --methods jmi sdmi --pipelines device model --compile-views
if [ "${CUDNN:-0}" = 1 ]; then
    stage cudnn-benchmark 90 --methods jmi sdmi --pipelines device model --cudnn-benchmark
fi
if [ "${COMPILE:-0}" = 1 ]; then
    stage compile 240 --methods jmi --pipelines device model --compile
fi
exit "$rc"
