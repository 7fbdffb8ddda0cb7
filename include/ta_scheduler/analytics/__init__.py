"""Analytics behind ``analysis_pipeline``: indicators, market sentiment, hot stocks, risk.

Pure computations (arrays in, arrays/frames out) live in ``panel``, ``indicators``, ``breadth``,
``news_sentiment``, ``hot_stocks`` and ``risk``; store reads and writes live in ``jobs`` (which
the DAG tasks call through ``tasks``), ``stored_bars`` (the bar reads the jobs share),
``indicator_state`` and ``bar_columns`` (the window jobs' days kept as columns). Formulas,
conventions and units: ``docs/analytics.md``.

The job names below are the ``jobs`` param's values (the DAG file builds its enum from them).
Heavy libraries (numpy, pandas, pymongo) are imported by the submodules, never here, so
importing the package stays cheap at DAG parse time.
"""

#: The jobs a run triggered by new bars computes, in order.
DAILY_JOBS = ["indicators", "sentiment", "hot_stocks"]
#: The market jobs: the daily ones and the weekly risk.
MARKET_JOBS = [*DAILY_JOBS, "risk"]
#: Every job of ``analysis_pipeline`` (research needs ``symbols``).
ALL_JOBS = [*MARKET_JOBS, "research"]
