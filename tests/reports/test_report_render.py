"""The report templates: every block kind laid out in the page and in the Markdown, text escaped
in the page and kept verbatim in the Markdown, charts only in the page."""

from __future__ import annotations

import pytest
from ta_scheduler.reports.render import (
    Bullets,
    Chart,
    Metric,
    Metrics,
    Section,
    Table,
    Text,
    render_html,
    render_markdown,
)

SECTIONS = [
    Section("宽度 <b>", [
        Metrics([Metric("上涨", "12", "up"), Metric("涨跌比", "1.50")]),
        Table(["代码", "名称|简称"], [["600000", "<i>浦发</i>"], ["000001", "平安\n银行"]], [["", "up"], ["down", ""]],
              caption="涨幅 & 跌幅"),
        Chart(b"PNG", 'alt "q"', "近 60 日"),
        Text("a < b"),
        Bullets(["one", "two & three"]),
    ]),
    Section("空", []),
]


def test_the_page_lays_out_every_block_kind_escaped():
    page = render_html("报告 <1>", "副标题 & 说明", SECTIONS, "页脚")
    head, body = page.split("</style></head><body><main>\n")
    assert head.startswith('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">\n'
                           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                           "<title>报告 &lt;1&gt;</title><style>\nbody{")
    assert body == (
        "<header><h1>报告 &lt;1&gt;</h1><p>副标题 &amp; 说明</p></header>\n"
        "<section><h2>宽度 &lt;b&gt;</h2>"
        '<div class="metrics"><div class="metric"><div class="label">上涨</div><div class="value up">12</div></div>'
        '<div class="metric"><div class="label">涨跌比</div><div class="value flat">1.50</div></div></div>'
        "<table><caption>涨幅 &amp; 跌幅</caption><thead><tr><th>代码</th><th>名称|简称</th></tr></thead><tbody>"
        '<tr><td>600000</td><td class="up">&lt;i&gt;浦发&lt;/i&gt;</td></tr>'
        '<tr><td class="down">000001</td><td>平安\n银行</td></tr></tbody></table>'
        '<figure><img alt="alt &#34;q&#34;" src="data:image/png;base64,UE5H"><figcaption>近 60 日</figcaption></figure>'
        "<p>a &lt; b</p><ul><li>one</li><li>two &amp; three</li></ul></section>\n"
        "<section><h2>空</h2></section>\n"
        "<footer>页脚</footer>\n"
        "</main></body></html>"
    )


def test_the_markdown_has_the_same_sections_without_charts():
    assert render_markdown("报告 <1>", "副标题 & 说明", SECTIONS, "页脚") == (
        "# 报告 <1>\n\n副标题 & 说明\n\n"
        "## 宽度 <b>\n\n"
        "- **上涨**: 12\n- **涨跌比**: 1.50\n\n"
        "*涨幅 & 跌幅*\n\n| 代码 | 名称\\|简称 |\n|---|---|\n| 600000 | <i>浦发</i> |\n| 000001 | 平安 银行 |\n\n"
        "a < b\n\n"
        "- one\n- two & three\n\n"
        "## 空\n\n"
        "---\n页脚\n"
    )


def test_without_a_footer_both_end_at_the_last_section():
    assert render_html("t", "s", [Section("x", [Text("y")])]).endswith("<section><h2>x</h2><p>y</p></section>\n</main></body></html>")
    assert render_markdown("t", "s", [Section("x", [Text("y")])]) == "# t\n\ns\n\n## x\n\ny\n"


def test_an_unknown_block_is_refused_by_name():
    with pytest.raises(TypeError, match="unknown report block dict"):
        render_html("t", "s", [Section("x", [{"text": "y"}])])
