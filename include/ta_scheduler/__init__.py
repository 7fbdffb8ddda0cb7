"""TradingAgents scheduler: the logic behind the Airflow DAGs in ``dags/``.

Modules here are imported by DAG files at parse time, so the package root and the modules
named in ``dags/`` (``constants``, ``dag_defaults``) import only the standard library and
pendulum. Everything heavy (pandas, pymongo, tushare, ...) is imported inside functions.
"""

__version__ = "0.1.0"
