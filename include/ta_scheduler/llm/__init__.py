"""LLM research for job M2 (``analysis_pipeline``) and LLM news sentiment.

Modules, in the order data flows:

- ``params``    research params: validation, trigger-form JSON schema, depth table (stdlib only,
                safe to import in DAG files at parse time)
- ``config``    provider keys, endpoints and model names (env → Airflow connection → default)
- ``base``      the ``ChatModel`` interface, ``ChatResult``, error classes, retry policy
- ``clients``   DashScope (``dashscope`` SDK, native API) and DeepSeek (``openai`` SDK) adapters
- ``context``   one stock's inputs read from the store, rendered as a compact Chinese data block
- ``prompts``   role prompts (analysts, bull/bear, managers, trader, risk analysts)
- ``parsing``   decision JSON and score lists out of model text
- ``offline``   the rule-based ``offline`` provider
- ``research``  ``run_stock_research``: the workflow and the ``analysis_reports`` document
- ``budget``    prices, the ``llm_usage`` ledger, per-run/per-day budgets, the pre-batch estimate
- ``approval``  the human approval task of a batch above budget (parse-safe: Airflow only)
- ``sentiment`` ``LLMSentimentScorer`` for news sentiment

See docs/llm-research.md. Nothing here imports an SDK at module level.
"""
