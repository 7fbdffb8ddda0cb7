from __future__ import annotations

import pytest

from e2e.cluster import Cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """One CeleryExecutor deployment shared by the end-to-end tests; stopped by PID at the end."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.stop()
