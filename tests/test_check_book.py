"""The browser check finds each fault a reader would see, on tiny hand-made pages, and passes a clean one.

Needs Debian's chromium and the playwright package (``make env`` installs the latter, ``make check-book`` the
former); without them the browser tests are skipped with the reason.
"""

import base64
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import api_reexports  # noqa: E402
import check_book  # noqa: E402
import install_cell  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's chromium (apt-get install -y chromium) and playwright (pip install playwright)",
)

# A 1x1 PNG, so the clean page has an image that loads.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 0; }} main {{ width: 600px; }}</style></head>
<body><main><section id="top"><h1>{title}</h1>
<p>A formula rendered as HTML: <span class="katex">x</span>; code may hold TeX: <code>$$x$$</code>.</p>
<p><a href="other.html#there">a link</a> <a href="#top">up</a> <a href="https://example.org/">outside</a></p>
<img src="dot.png" alt="dot" width="10" height="10">
<div style="overflow-x: auto; width: 300px"><table><tr><td style="white-space: nowrap">{wide}</td></tr></table></div>
{body}</section></main></body></html>"""
WIDE = "a long table row " * 40


def _site(tmp_path: Path, body: str) -> Path:
    (tmp_path / "dot.png").write_bytes(PNG)
    (tmp_path / "other.html").write_text(CLEAN.format(title="other", wide="", body='<p id="there">here</p>'))
    (tmp_path / "page.html").write_text(CLEAN.format(title="page", wide=WIDE, body=body))
    return tmp_path / "page.html"


def _problems(tmp_path: Path, body: str) -> list[check_book.Problem]:
    page = _site(tmp_path, body)
    return check_book.check_pages(tmp_path, tmp_path / "shots", chromium=CHROMIUM, pages=[page])


@needs_browser
def test_a_clean_page_passes_and_gets_a_screenshot(tmp_path):
    assert _problems(tmp_path, "") == []
    assert (tmp_path / "shots" / "page.png").stat().st_size > 1000


@needs_browser
@pytest.mark.parametrize(
    ("body", "what", "where"),
    [
        (r"<p>The bound \(I \ge 0\) holds.</p>", "unrendered TeX", r"\(I \ge 0\)"),
        ("<p>$$ I(X;Y) $$</p>", "unrendered TeX", "$$ I(X;Y) $$"),
        (r"<div>\begin{align} a &= b \end{align}</div>", "unrendered TeX", r"\begin{align}"),
        ('<span class="katex-error" title="Undefined control sequence: \\E">\\E</span>', "math error", "\\E"),
        ('<img src="missing.png" alt="gone">', "image not loaded", "missing.png"),
        ('<a href="nowhere.html">dead</a>', "broken link", "nowhere.html does not exist"),
        ('<a href="other.html#not-there">dead anchor</a>', "broken link", "no anchor #not-there"),
        ('<a href="#nor-here">dead local anchor</a>', "broken link", "no anchor #nor-here"),
        ('<p><code class="xref py py-func">mi_ssl.nothing()</code></p>', "unresolved reference", "mi_ssl.nothing()"),
        ('<div id="box" style="overflow: hidden; width: 200px"><pre>' + "x" * 300 + "</pre></div>",
         "content cut", "div#box holds"),
        ('<div id="spill" style="width: 3000px">wide</div>', "page wider than the window", "3000"),
        ('<script src="https://cdn.example.org/mathjax.js"></script>', "external request", "cdn.example.org"),
        ('<link rel="stylesheet" href="missing.css">', "missing resource", "missing.css"),
        ("<script>null.boom();</script>", "script error", "null"),
    ],
    ids=["inline-tex", "display-dollars", "begin", "katex-error", "image", "missing-file", "missing-anchor",
         "missing-local-anchor", "xref", "cut", "page-wide", "external", "missing-css", "script"],
)
def test_each_fault_is_reported_once_with_page_what_and_where(tmp_path, body, what, where):
    problems = _problems(tmp_path, body)
    assert [p.what for p in problems] == [what], problems
    assert problems[0].page == "page.html"
    assert where in problems[0].where, problems[0]


@needs_browser
def test_a_wide_box_that_scrolls_is_not_a_fault_but_the_same_box_clipped_is(tmp_path):
    scrolls = '<div style="overflow-x: auto; width: 200px"><pre>' + "y" * 300 + "</pre></div>"
    assert _problems(tmp_path, scrolls) == []
    clipped = scrolls.replace("overflow-x: auto", "overflow-x: hidden")
    assert [p.what for p in _problems(tmp_path, clipped)] == ["content cut"]


def test_problem_lines_name_page_what_and_where():
    line = str(check_book.Problem("book/a.html", "broken link", "a -> b.html"))
    assert line == "book/a.html: broken link: a -> b.html"


def test_only_file_and_localhost_requests_are_allowed():
    assert check_book._allowed("file:///tmp/x.html")
    assert check_book._allowed("http://127.0.0.1:8000/x.js")
    assert check_book._allowed("http://localhost/x.js")
    assert not check_book._allowed("https://cdn.jsdelivr.net/npm/katex/dist/katex.min.css")
    assert not check_book._allowed("http://10.0.0.1/x.js")


def test_a_reexported_name_resolves_to_the_one_documented_definition():
    documented = {"mi_ssl.data.base.SSLData", "mi_ssl.data.base.SSLData.views", "mi_ssl.bounds.dv",
                  "mi_ssl.a.x.Twin", "mi_ssl.a.y.Twin"}
    assert api_reexports.reexport_target("mi_ssl.data.SSLData", documented) == "mi_ssl.data.base.SSLData"
    assert api_reexports.reexport_target("mi_ssl.data.SSLData.views", documented) == "mi_ssl.data.base.SSLData.views"
    assert api_reexports.reexport_target("mi_ssl.a.Twin", documented) is None  # ambiguous: stays unresolved
    assert api_reexports.reexport_target("mi_ssl.nothing", documented) is None


def test_every_chapter_starts_with_the_install_cell_for_the_configured_repository():
    url = install_cell.repository_url()
    assert url == "https://github.com/mi-ssl/mi-ssl"
    assert install_cell.main(["--check"]) == 0
    source = install_cell.cell_source(url)
    assert "NBVAL" not in source and f"git+{url}" in source  # skipped by its nbval-skip tag alone
    assert 'find_spec("mi_ssl") is None' in source  # a no-op where the package is importable
