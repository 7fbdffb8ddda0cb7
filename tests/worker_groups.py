"""Which tests share a pytest-xdist worker, and which start first (``make test`` runs two
workers; tests/conftest.py schedules).

Each worker has a metadata DB and a default store of its own (scripts/env.sh names them from
``PYTEST_XDIST_WORKER``; tests/conftest.py copies the migrated metadata DB for each worker after
the first), so ``airflow dags test`` runs, ``dags reserialize`` and the settings loader of one
worker never meet the other's, and a deployment's scheduler sees only its own worker's runs.
A worker runs its groups one test after another.

A group is a module (its module fixtures are set up once), or a package whose package-scoped
fixtures start a server: ``e2e/`` (one CeleryExecutor deployment, and the only one: its Celery
broker is the test Redis DB) and ``ui/`` (an api-server). Groups start longest first, so the
worker that takes the longest one is not left with it at the end.
"""

from __future__ import annotations

#: Packages (under tests/) whose tests stay together: package-scoped fixtures start a server.
PACKAGES = ("e2e/", "ui/")

#: The longest groups, longest first (``--durations`` of a whole run); the rest follow in
#: collection order. A stale order costs minutes of the run, never a result.
LONGEST_FIRST = (
    "e2e/",
    "dags/test_dags_test.py",
    "contract/test_tacn_contract.py",
    "sync/test_self_healing.py",
    "sync/test_vendor_ready.py",
    "sync/test_crash_points.py",
    "sync/test_daily_sync_tiers_dag.py",
    "ui/",
    "calendar/test_timetables_airflow_cli.py",
    "sync/test_intraday_sessions.py",
    "reports/test_analysis_wait.py",
    "reports/test_daily_report.py",
    "dags/test_integrity.py",
    "reports/test_report_delivery.py",
    "analytics/test_indicator_job.py",
    "sync/test_daily_sync_dag.py",
)


#: Modules that start first within their package's group. The e2e deployment starts the latest
#: scheduled run of each DAG (a ``daily_sync`` repairing 20 days, the analysis it triggers, …);
#: the deferred-report test waits for those to finish anyway, so it goes first and the tests
#: after it find the deployment's workers free.
FIRST_IN_PACKAGE = ("e2e/test_reports_deferred.py",)


def group_of(nodeid: str) -> str:
    """The group of a test, from its node id (``tests/sync/test_x.py::test_y[param]``)."""
    path = nodeid.partition("::")[0]
    rel = path.removeprefix("tests/")
    for package in PACKAGES:
        if rel.startswith(package):
            return package
    return rel


def start_rank(group: str) -> int:
    """Where a group starts: its place in :data:`LONGEST_FIRST`, after them all if not listed."""
    return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)


def run_order(nodeid: str) -> tuple[int, int]:
    """Sort key of a test: its group's start rank, then :data:`FIRST_IN_PACKAGE` modules first."""
    module = nodeid.partition("::")[0].removeprefix("tests/")
    return start_rank(group_of(nodeid)), 0 if module in FIRST_IN_PACKAGE else 1
