"""Write CIFAR-10-shaped random uint8 data in CIFAR-10's own on-disk format (python pickles).

Used to measure GPU training speed and memory where CIFAR cannot be downloaded: throughput and memory do not
depend on pixel content. Accuracy numbers from such data are meaningless (the labels are random).

    python benchmarks/synthetic_cifar.py DIR [--train 50000] [--test 10000] [--seed 0]
writes DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np


def write(root: Path, n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    out = root / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)
    per = -(-n_train // 5)
    for i in range(5):
        n = max(0, min(per, n_train - i * per))
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": f"synthetic {i + 1}".encode()}
        (out / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch))
    test = {b"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, n_test).tolist(), b"batch_label": b"synthetic test"}
    (out / "test_batch").write_bytes(pickle.dumps(test))
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_cases_per_batch": per}
    (out / "batches.meta").write_bytes(pickle.dumps(meta))
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path)
    p.add_argument("--train", type=int, default=50_000)
    p.add_argument("--test", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(write(a.root, a.train, a.test, a.seed))
