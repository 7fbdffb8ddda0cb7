# The project's Airflow image: the official 3.3.2 image plus our locked requirements and the
# `ta_scheduler` package (include/), imported the same way as in the local venv.
FROM apache/airflow:3.3.2-python3.11

USER root
# What the DAGs need at run time (the CJK font of the report charts): the same script `make up` runs.
COPY --chmod=755 scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh runtime && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
USER airflow

WORKDIR /opt/airflow/project
COPY --chown=airflow:root requirements.txt requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock
COPY --chown=airflow:root include ./include
RUN pip install --no-cache-dir --no-deps -e .
COPY --chown=airflow:root airflow_settings.yaml ./
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
# umask 077 for everything the containers write, then the official entrypoint (under dumb-init).
COPY --chown=root:root --chmod=755 scripts/compose/entrypoint.sh /usr/local/bin/ta-entrypoint
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/usr/local/bin/ta-entrypoint"]
WORKDIR /opt/airflow
