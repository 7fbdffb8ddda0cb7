"""The failure alert's bodies: the same facts in every channel's format, HTML-escaped only in the email."""

from __future__ import annotations

from ta_scheduler.notify.alerts import format_html, format_markdown, format_plain, format_text

FACTS = {"dag_id": "daily_sync", "task_id": "fetch_daily_bars", "map_index": "3", "run_id": "manual__1",
         "logical_date": "2026-11-27T08:30:00+00:00", "try_number": "2",
         "error": "ValueError: bad name <script>alert('x')</script> & more", "log_url": "http://h/log?a=1&b=2"}
NO_LOG = {**FACTS, "map_index": "-1", "log_url": ""}


def test_slack_text():
    assert format_text(FACTS) == (
        ":red_circle: Airflow task failed: daily_sync.fetch_daily_bars[3]\n"
        "run: manual__1  logical date: 2026-11-27T08:30:00+00:00  try: 2\n"
        "error: ValueError: bad name <script>alert('x')</script> & more\n"
        "log: http://h/log?a=1&b=2"
    )


def test_email_html_escapes_every_fact():
    assert format_html(FACTS) == (
        "<h3>Airflow task failed: daily_sync.fetch_daily_bars</h3><table>"
        "<tr><th align='left'>dag_id</th><td>daily_sync</td></tr>"
        "<tr><th align='left'>task_id</th><td>fetch_daily_bars</td></tr>"
        "<tr><th align='left'>map_index</th><td>3</td></tr>"
        "<tr><th align='left'>run_id</th><td>manual__1</td></tr>"
        "<tr><th align='left'>logical_date</th><td>2026-11-27T08:30:00+00:00</td></tr>"
        "<tr><th align='left'>try_number</th><td>2</td></tr>"
        "<tr><th align='left'>error</th><td>ValueError: bad name &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</td></tr>"
        "</table><p><a href='http://h/log?a=1&amp;b=2'>Task log</a></p>"
    )
    assert format_html(NO_LOG).endswith("</table>")


def test_markdown_links_the_log_when_there_is_one():
    assert format_markdown(FACTS) == (
        "### Airflow task failed: daily_sync.fetch_daily_bars[3]\n- run: manual__1\n"
        "- logical date: 2026-11-27T08:30:00+00:00\n- try: 2\n"
        "- error: ValueError: bad name <script>alert('x')</script> & more\n"
        "- log: [http://h/log?a=1&b=2](http://h/log?a=1&b=2)"
    )
    assert format_markdown(NO_LOG).endswith("- error: ValueError: bad name <script>alert('x')</script> & more")


def test_plain_text():
    assert format_plain(NO_LOG) == (
        "daily_sync.fetch_daily_bars\nrun: manual__1\nlogical date: 2026-11-27T08:30:00+00:00\n"
        "try: 2\nerror: ValueError: bad name <script>alert('x')</script> & more\nlog: "
    )
