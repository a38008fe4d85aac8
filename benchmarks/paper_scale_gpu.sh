#!/usr/bin/env bash
# Paper-scale ResNet-18 configuration (profile 'paper': Tables 3 and 5) on CIFAR-10-shaped synthetic data, a few
# epochs per method, on one GPU: prints epoch time and peak memory, then times a linear probe.
# Usage: bash benchmarks/paper_scale_gpu.sh OUT_DIR [EPOCHS] [METHODS...]
set -euo pipefail
out=${1:?out dir}; epochs=${2:-2}; shift 2 || true
methods=${*:-jmi sdmi simclr byol}
export PYTHONPATH=$PWD MI_SSL_PROGRESS=0
mkdir -p "$out"
python - <<'PY'
import torch, platform; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0), platform.python_version())
PY
data=$(mktemp -d)
python benchmarks/synthetic_cifar.py "$data" >/dev/null
for m in $methods; do
  python -m mi_ssl.cli train --method "$m" --dataset cifar10 --data-dir "$data" --profile paper --epochs "$epochs" \
      --device cuda --out "$out/$m" --no-progress --checkpoint-every "$epochs"
  python - "$out/$m/summary.json" <<'PY'
import json, sys; s = json.load(open(sys.argv[1]))
print(f"  -> {s['method']}: {s['seconds_per_epoch']:.2f} s/epoch (incl. MI tracking), peak {s.get('peak_memory_gib')} GiB, "
      f"batch {s['config']['batch_size']}, proj {s['config']['proj_layers']}x{s['config']['proj_dim']}")
PY
done
first=$(echo $methods | cut -d' ' -f1)
/usr/bin/time -f "probe wall %e s" python -m mi_ssl.cli probe --run "$out/$first" --device cuda
