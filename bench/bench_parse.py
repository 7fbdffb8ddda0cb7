"""DAG-folder parse cost (SPEC §8): our DAG files vs the same number of trivial DAG files.

Airflow 3 parses each DAG file in a fresh process every 30 s, after importing Airflow itself.
We measure the same: per file, a fresh interpreter imports ``airflow.sdk`` (not timed), then
the file is executed (timed). Baseline: trivial one-task TaskFlow DAG files, same count, same run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
REPEATS = 5

TRIVIAL = '''
"""Trivial DAG used as the parse-cost baseline."""
import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task


@dag(schedule=CronTriggerTimetable("0 1 * * *", timezone="Asia/Shanghai"),
     start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"), catchup=False, tags=["bench"])
def trivial_{n}():
    @task
    def noop():
        return 1

    noop()


trivial_{n}()
'''

PROBE = """
import runpy, sys, time
sys.path.insert(0, {plugins!r})
import airflow.sdk  # Airflow's own import is paid once per processor, not per file
t = time.perf_counter()
runpy.run_path(sys.argv[1])
print(time.perf_counter() - t)
"""


def _parse_seconds(files: list[Path]) -> float:
    """Median over REPEATS of the summed per-file parse time."""
    probe = PROBE.format(plugins=str(PROJECT / "plugins"))
    totals = []
    for _ in range(REPEATS):
        total = 0.0
        for f in files:
            out = subprocess.run([sys.executable, "-c", probe, str(f)], capture_output=True, text=True, check=True)
            total += float(out.stdout.strip().splitlines()[-1])
        totals.append(total)
    return statistics.median(totals)


def run() -> dict[str, dict]:
    ours = sorted(p for p in (PROJECT / "dags").glob("*.py") if not p.name.startswith("_"))
    with tempfile.TemporaryDirectory() as tmp:
        trivial = []
        for n in range(len(ours)):
            path = Path(tmp) / f"trivial_{n}.py"
            path.write_text(TRIVIAL.format(n=n))
            trivial.append(path)
        base = _parse_seconds(trivial)
    value = _parse_seconds(ours)
    return {
        "dag_folder_parse": {
            "value": value,
            "unit": "s",
            "baseline": base,
            "ratio": value / base,
            "note": f"{len(ours)} DAG files vs {len(ours)} trivial DAG files, fresh process each, median of {REPEATS}",
        }
    }
