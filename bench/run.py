"""Run every benchmark in ``bench/`` and write ``bench/results.json``.

    make bench                      # all of them
    make bench BENCH=parse          # only modules whose name contains "parse"

Each ``bench/bench_*.py`` module exposes ``run() -> dict[str, dict]`` mapping a benchmark
name to ``{"value": x, "unit": "s", "baseline": y, "ratio": x / y, "note": "..."}``, where the
baseline is measured in the same run on the same machine (never a remembered number).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.3f}"
    return f"{v:.4g}"


def main(argv: list[str]) -> int:
    only = argv[0] if argv else ""
    sys.path.insert(0, str(BENCH_DIR))
    results: dict[str, dict] = {}
    out = BENCH_DIR / "results.json"
    if only and out.exists():  # a partial run keeps the other figures
        results.update(json.loads(out.read_text()))
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        if only and only not in path.stem:
            continue
        t0 = time.perf_counter()
        print(f"-- {path.stem} ...", flush=True)
        module = importlib.import_module(path.stem)
        for name, res in module.run().items():
            res.setdefault("ratio", res["value"] / res["baseline"] if res.get("baseline") else None)
            results[name] = res
        print(f"   done in {time.perf_counter() - t0:.1f} s", flush=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    rows = [("benchmark", "value", "unit", "baseline", "ratio", "note")]
    for name, r in sorted(results.items()):
        ratio = r.get("ratio")
        rows.append((name, _fmt(r["value"]), r.get("unit", ""), _fmt(r["baseline"]) if r.get("baseline") is not None else "-",
                     f"{ratio:.3f}" if ratio is not None else "-", r.get("note", "")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nwritten to {out.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
