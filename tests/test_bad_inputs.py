"""The bad-input audit (benchmarks/bad_inputs.py) finds every case clear: one line, exit 2, no traceback."""

import importlib.util
from pathlib import Path

AUDIT = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_inputs.py"


def test_every_bad_input_and_fault_gets_one_clear_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bad_inputs", AUDIT)
    audit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(audit)
    out = tmp_path / "table.md"
    code = audit.main(["--out", str(out)])
    table = out.read_text()
    assert code == 0, [ln for ln in table.splitlines() if ln.endswith("| FAILS |")]
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert len(rows) >= 40 and all(ln.endswith("| clear |") for ln in rows)
    assert {"CLI", "API", "chapter"} <= {ln.split(" | ")[1] for ln in rows}
