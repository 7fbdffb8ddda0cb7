"""Analytics behind ``analysis_pipeline``: indicators, market sentiment, hot stocks, risk.

Pure computations (arrays in, arrays/frames out) live in ``panel``, ``indicators``,
``news_sentiment``, ``market``, ``hot`` and ``risk``; store reads and writes live only in
``jobs``, which the DAG tasks call. Formulas, conventions and units: ``docs/analytics.md``.

Heavy libraries (numpy, pandas, pymongo) are imported by the submodules, never here, so
importing the package stays cheap at DAG parse time.
"""
