from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
from fakes.http_sink import HttpSink
from fakes.llm_server import FakeLLMServer
from fakes.smtp_sink import SmtpSink
from fakes.tushare_server import FakeTushareServer
from private_store import PrivateFerretDB

from e2e.cluster import Cluster


@pytest.fixture(scope="package")
def e2e_world(tmp_path_factory):
    """Outside services of the deployment: fake tushare, a fake LLM service (DashScope), a Slack
    webhook sink, an SMTP sink, and a store of its own (a private FerretDB the crash tests may kill
    and restart)."""
    store = PrivateFerretDB(tmp_path_factory.mktemp("store")).start()
    tushare = FakeTushareServer(n_stocks=120).start()
    slack = HttpSink().start()
    smtp = SmtpSink().start()
    llm = FakeLLMServer(valid_keys=("sk-e2e",)).start()
    db_name = f"ta_e2e_{uuid.uuid4().hex[:8]}"
    yield {"tushare": tushare, "slack": slack, "smtp": smtp, "llm": llm, "db_name": db_name, "store": store,
           "mongo_uri": store.uri + db_name}
    for service in (tushare, slack, smtp, llm):
        service.stop()
    store.kill(signal.SIGTERM)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory, e2e_world):
    """One CeleryExecutor deployment shared by the end-to-end tests; stopped by PID when the last
    of them is done (package scope: its scheduler shares the test metadata DB, so it must not
    outlive them and pick up the runs that later tests start with ``airflow dags test``)."""
    c = Cluster(
        tmp_path_factory.mktemp("cluster"),
        extra_env={
            "MONGO_URI": e2e_world["mongo_uri"],
            "PYTHONPATH": str(Path(__file__).parent / "policy"),  # airflow_local_settings: retries after seconds
            "TA_CALENDAR_DIR": str(tmp_path_factory.mktemp("calendar")),
            "TA_DATA_PROVIDER": "tushare",
            "TUSHARE_TOKEN": e2e_world["tushare"].token,
            "TUSHARE_API_URL": e2e_world["tushare"].url,
            "TA_REPORTS_ANALYSIS_POLL_SECONDS": "2",
            "DASHSCOPE_API_KEY": "sk-e2e",
            "DASHSCOPE_BASE_URL": e2e_world["llm"].dashscope_base_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "TA_SENTIMENT_LLM_PROVIDER": "offline",  # the fake LLM serves research only
            "AIRFLOW_CONN_SLACK_ALERTS": e2e_world["slack"].slack_webhook_connection(),
            "AIRFLOW_CONN_SMTP_ALERTS": e2e_world["smtp"].airflow_connection(to=("ops@example.com",)),
        },
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()
