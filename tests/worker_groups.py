"""Which tests share a pytest-xdist worker (``make test`` runs two; tests/conftest.py schedules).

Tests that run DAGs or Airflow components on the test metadata DB (``airflow dags test``, ``dags
reserialize``, the end-to-end deployment, the settings loader, a nested test run) share that one
database: the deployment's scheduler would pick up a ``dags test`` run started meanwhile on another worker, and
two ``dags test`` runs of one DAG and date would be one run. They form the group ``airflow_db``,
which one worker runs, one test after another, before anything else. A package whose
package-scoped fixtures start a server is a group of its own; every other module is one (its
module fixtures are set up once). ``airflow_cli.dags_test`` refuses to run outside ``airflow_db``.
"""

from __future__ import annotations

AIRFLOW_DB = "airflow_db"

#: Folders and modules (under tests/) of the ``airflow_db`` group, and single tests (module::name).
AIRFLOW_DB_PATHS = (
    "e2e/",
    "contract/test_tacn_contract.py",
    "dags/test_dags_test.py",
    "dags/test_integrity.py::test_reserialize_and_no_import_errors_through_the_cli",
    "dags/test_category_jobs.py::test_a_manual_run_executes_the_chosen_job_and_airflow_skips_the_others",
    "dags/test_conf_rules.py::test_a_run_made_outside_the_api_server_fails_in_its_first_task",
    "calendar/test_timetables_airflow_cli.py",
    "integration/test_isolation.py",
    "integration/test_settings_loader.py",
    "reports/test_analysis_wait.py",
    "sync/test_daily_sync_dag.py",
    "sync/test_daily_sync_tiers_dag.py",
    "sync/test_honest_time.py",
    "sync/test_intraday_sessions.py",
    "sync/test_self_healing.py",
    "sync/test_vendor_ready.py",
)
#: Packages (under tests/) whose tests stay together: package-scoped fixtures start a server.
PACKAGES = ("ui/",)


def group_of(nodeid: str) -> str:
    """The group of a test, from its node id (``tests/sync/test_x.py::test_y[param]``)."""
    path, _, name = nodeid.partition("::")
    rel = path.removeprefix("tests/")
    test = rel + "::" + name.split("[", 1)[0]
    if any(rel.startswith(p) or test == p for p in AIRFLOW_DB_PATHS):
        return AIRFLOW_DB
    for package in PACKAGES:
        if rel.startswith(package):
            return package
    return path
