"""Open every page of the built book in headless Chromium, offline, and report what a reader would see broken.

    python tools/check_book.py [_build/html] [--screenshots _build/screenshots] [--width 1280] [--height 800]

For each ``*.html`` page (``file://``, nothing else reachable) it waits for math to typeset and fonts to load, saves a
screenshot of the first screen to ``--screenshots/<page>.png``, and prints one line per problem,
``PAGE: WHAT: WHERE``:

* ``unrendered TeX`` — ``\\(``, ``\\[``, ``$$``, ``$\\`` or ``\\begin`` in visible text outside code;
* ``math error`` — a formula the renderer could not typeset (KaTeX ``.katex-error``, MathJax ``merror``);
* ``image not loaded`` — an ``<img>`` whose ``naturalWidth`` is 0;
* ``broken link`` — an internal ``href`` to a missing file or to an anchor the target page lacks;
* ``unresolved reference`` — a ``{func}``/``{mod}``/``{class}`` role that Sphinx could not link (on API pages only
  those naming ``mi_ssl``: names of other libraries have no pages in this book);
* ``content cut`` — an element wider than the box that clips it, with no scrollbar to reach the rest;
* ``page wider than the window`` — the page scrolls sideways;
* ``missing resource`` / ``external request`` — a stylesheet, script, font or image that did not load from the
  build, or that the page asks of another host (blocked: the book must work offline);
* ``script error`` — an uncaught JavaScript exception.

Exit status 0 when no page has a problem, 1 otherwise, 2 when the book or the browser is missing.

The browser is Debian's ``chromium`` (installed with apt-get when absent and this runs as root), driven by the
``playwright`` Python package with ``executable_path`` — Playwright never downloads a browser here. It starts with
no network services (``--disable-background-networking`` and friends) and a fresh profile, and every request that is
not ``file:`` or ``localhost`` is aborted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]
# Pages that are not chapters: the API reference (where unresolved names of other libraries are expected).
API_PREFIX = "book/api/"
# Uncaught script errors that are known, harmless to the reader, and not ours to fix:
# sphinx-thebe 0.3 declares its configuration constants twice on every page (no Live Code button is configured).
KNOWN_SCRIPT_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)


@dataclass(frozen=True)
class Problem:
    """One thing a reader would see broken: on ``page``, ``what``, at ``where``."""

    page: str
    what: str
    where: str

    def __str__(self) -> str:
        return f"{self.page}: {self.what}: {self.where}"


# --------------------------------------------------------------------------- the browser
def find_chromium(install: bool = True) -> str:
    """Path of Debian's Chromium; with ``install`` and root rights, ``apt-get install -y chromium`` when missing."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if not install:
        raise FileNotFoundError("chromium not found (Debian: apt-get install -y chromium)")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise FileNotFoundError("chromium not found and cannot be installed here; "
                                "run as root on Debian/Ubuntu, or: sudo apt-get install -y chromium")
    print("check_book: installing Debian's chromium (apt-get) ...", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    path = shutil.which("chromium")
    if path is None:
        raise FileNotFoundError("apt-get installed chromium but it is not on PATH")
    return path


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in ("localhost", "127.0.0.1", "::1")


# In-page inspection: returns the facts; Python decides what is a problem (except for layout, decided here).
_INSPECT = r"""
async () => {
 const inspect = async () => {
  // Lazy images load only near the viewport: make them eager and wait for each to settle.
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 5000);
  })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await document.fonts.ready;

  const visible = el => {
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden') return false;
    }
    return el.getClientRects().length > 0;
  };
  const where = el => {
    const sec = el.closest('section[id]');
    const tag = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.classList.length ? '.' + Array.from(el.classList).slice(0, 2).join('.') : '');
    return (sec ? '#' + sec.id + ' ' : '') + tag;
  };
  const snippet = s => s.replace(/\s+/g, ' ').trim().slice(0, 80);

  // 1. TeX left in visible text (code, scripts and rendered math excluded).
  const skip = 'pre, code, kbd, samp, script, style, textarea, .katex, mjx-container, .MathJax, .highlight';
  const tex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.nodeValue;
    const m = text.match(/\\\(|\\\[|\$\$|\$\\[A-Za-z]|\\begin\{/);
    if (!m) continue;
    const el = n.parentElement;
    if (!el || el.closest(skip) || !visible(el)) continue;
    const i = m.index;
    tex.push({where: where(el), text: snippet(text.slice(Math.max(0, i - 20), i + 60))});
  }

  // 2. Formulas the renderer rejected.
  const mathErrors = Array.from(document.querySelectorAll('.katex-error, mjx-merror, .MathJax_Error'))
    .map(el => ({where: where(el), text: snippet(el.getAttribute('title') || el.textContent)}));

  // 3. Images.
  const images = imgs.filter(img => visible(img) && img.naturalWidth === 0)
    .map(img => ({where: where(img), src: img.getAttribute('src') || ''}));

  // 4. Links and cross-references.
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({
    href: a.href, raw: a.getAttribute('href'), where: where(a), text: snippet(a.textContent)}));
  const xrefs = Array.from(document.querySelectorAll('.xref'))
    .filter(el => !el.closest('a[href]'))
    .map(el => ({where: where(el), text: snippet(el.textContent)}));

  // 5. Horizontal overflow: a box that clips (overflow-x hidden or clip) holding content wider than itself,
  //    so the rest cannot be reached: no scrollbar. Boxes that scroll (auto, scroll) are fine.
  const vw = document.documentElement.clientWidth;
  const cut = [];
  // Formulas and SVG drawings are checked as a whole: their insides overflow on purpose (KaTeX's struts, SVG
  // paths clipped by their viewBox). Visually-hidden helpers (screen-reader text) clip by design.
  const atomic = 'svg, svg *, .katex *, mjx-container *';
  const root = document.querySelector('main') || document.body;
  for (const el of [root, ...root.querySelectorAll('*')]) {
    if (el.matches(atomic)) continue;
    const s = getComputedStyle(el);
    if (s.overflowX !== 'hidden' && s.overflowX !== 'clip') continue;
    if (s.display === 'inline' || s.display === 'contents' || s.textOverflow === 'ellipsis') continue;
    if (el.clientWidth <= 2 || el.clientHeight <= 2 || (s.clip && s.clip !== 'auto') || s.clipPath !== 'none') continue;
    if (el.scrollWidth <= el.clientWidth + 1 || !visible(el)) continue;
    cut.push({where: where(el), text: snippet(el.textContent || el.tagName),
              width: el.scrollWidth, box: el.clientWidth});
  }
  const pageWidth = document.documentElement.scrollWidth;
  let widest = null;
  if (pageWidth > vw + 1) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right > vw + 1 && visible(el) && (!widest || r.right > widest.right)) {
        widest = {right: Math.round(r.right), where: where(el)};
      }
    }
  }
  const ids = Array.from(document.querySelectorAll('[id], a[name]')).map(el => el.id || el.getAttribute('name'));
  return {tex, mathErrors, images, links, xrefs, cut, pageWidth, viewport: vw, widest, ids};
 };
 // A page that never settles (fonts, images, typesetting) is a problem, not a hang.
 return Promise.race([inspect(), new Promise(done => setTimeout(() => done(null), 60000))]);
}
"""
_REFRESH = re.compile(r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']?\d+\s*;\s*url=([^"'>\s]+)""", re.I)


class _Anchors(HTMLParser):
    """Every ``id`` and ``<a name>`` of an HTML file (the targets a ``#fragment`` may name)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


def _anchors(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        parser = _Anchors()
        parser.feed(path.read_text(errors="replace"))
        cache[path] = parser.ids
    return cache[path]


def _link_problems(page: str, page_path: Path, links: list[dict], ids: set[str], html_root: Path,
                   anchor_cache: dict[Path, set[str]]) -> list[Problem]:
    problems = []
    for link in links:
        raw = (link["raw"] or "").strip()
        if not raw or raw.startswith(("javascript:", "mailto:", "tel:", "data:")):
            continue
        parts = urlsplit(link["href"])
        if parts.scheme != "file":
            continue  # another host: a link the reader follows when online, not part of the build
        target = Path(unquote(parts.path))
        fragment = unquote(parts.fragment)
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            rel = os.path.relpath(target, html_root)
            problems.append(Problem(page, "broken link", f"{link['where']} -> {raw} ({rel} does not exist)"))
            continue
        if fragment and target.suffix == ".html":
            known = ids if target == page_path else _anchors(target, anchor_cache)
            if fragment not in known:
                problems.append(Problem(page, "broken link", f"{link['where']} -> {raw} (no anchor #{fragment})"))
    return problems


def check_pages(html_root: Path, shots: Path | None = None, width: int = 1280, height: int = 800,
                chromium: str | None = None, pages: list[Path] | None = None) -> list[Problem]:
    """Open each page under ``html_root`` in headless Chromium and return every problem found (see module doc)."""
    from playwright.sync_api import sync_playwright

    html_root = html_root.resolve()
    pages = sorted(pages if pages is not None else html_root.rglob("*.html"))
    pages = [p for p in pages if "_static" not in p.relative_to(html_root).parts]
    chromium = chromium or find_chromium()
    problems: list[Problem] = []
    anchor_cache: dict[Path, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="check_book_profile_") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height}, service_workers="block")
        try:
            for path in pages:
                page_name = path.relative_to(html_root).as_posix()
                redirect = _REFRESH.search(path.read_text(errors="replace")[:2000])
                if redirect:  # a redirect stub (index.html): only its target must exist
                    link = {"raw": redirect.group(1), "href": (path.parent / redirect.group(1)).resolve().as_uri(),
                            "where": "meta refresh"}
                    problems.extend(_link_problems(page_name, path, [link], set(), html_root, anchor_cache))
                    continue
                problems.extend(_check_one(context, path, page_name, html_root, shots, anchor_cache))
        finally:
            context.close()
    return problems


def _check_one(context, path: Path, name: str, html_root: Path, shots: Path | None,
               anchor_cache: dict[Path, set[str]]) -> list[Problem]:
    problems: list[Problem] = []
    page = context.new_page()

    def route(route) -> None:
        url = route.request.url
        if _allowed(url):
            route.continue_()
        else:
            problems.append(Problem(name, "external request", f"{route.request.resource_type} {url[:120]}"))
            route.abort("blockedbyclient")

    def failed(request) -> None:
        if request.url.startswith("file:") and request.resource_type != "image":  # images: see naturalWidth
            rel = os.path.relpath(unquote(urlsplit(request.url).path), html_root)
            problems.append(Problem(name, "missing resource", f"{request.resource_type} {rel}"))

    page.route("**/*", route)
    page.on("requestfailed", failed)
    def script_error(err) -> None:
        message = (str(err).splitlines() or [""])[0]
        if not message.startswith(KNOWN_SCRIPT_ERRORS):
            problems.append(Problem(name, "script error", message[:160]))

    page.on("pageerror", script_error)
    facts = None
    try:
        page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        facts = page.evaluate(_INSPECT)
        if shots is not None:
            out = shots / (name[:-len(".html")].replace("/", "__") + ".png")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
    finally:
        page.close()
    if facts is None:
        return [*problems, Problem(name, "page did not settle", "fonts, images or math still loading after 60 s")]
    for hit in facts["tex"]:
        problems.append(Problem(name, "unrendered TeX", f"{hit['where']} \u201c{hit['text']}\u201d"))
    for hit in facts["mathErrors"]:
        problems.append(Problem(name, "math error", f"{hit['where']} \u201c{hit['text']}\u201d"))
    for hit in facts["images"]:
        problems.append(Problem(name, "image not loaded", f"{hit['where']} src={hit['src']}"))
    problems.extend(_link_problems(name, path.resolve(), facts["links"], set(facts["ids"]), html_root, anchor_cache))
    for hit in facts["xrefs"]:
        if name.startswith(API_PREFIX) and not hit["text"].startswith("mi_ssl"):
            continue
        problems.append(Problem(name, "unresolved reference", f"{hit['where']} \u201c{hit['text']}\u201d"))
    for hit in facts["cut"]:
        problems.append(Problem(name, "content cut", f"{hit['where']} holds {hit['width']} px in {hit['box']} px "
                                f"without a scrollbar \u201c{hit['text']}\u201d"))
    if facts["pageWidth"] > facts["viewport"] + 1:
        culprit = f", widest {facts['widest']['where']}" if facts["widest"] else ""
        problems.append(Problem(name, "page wider than the window",
                                f"{facts['pageWidth']} px in a {facts['viewport']} px window{culprit}"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default="_build/html", type=Path,
                        help="the built book (default %(default)s)")
    parser.add_argument("--screenshots", default="_build/screenshots", type=Path,
                        help="where to save one PNG per page (default %(default)s)")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS px (default %(default)s)")
    parser.add_argument("--height", type=int, default=800, help="window height in CSS px (default %(default)s)")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists() and not any(args.html.glob("*.html")):
        print(f"check_book: no built book in {args.html} (run `make book` first)", file=sys.stderr)
        return 2
    try:
        chromium = find_chromium()
    except (FileNotFoundError, subprocess.CalledProcessError) as err:
        print(f"check_book: {err}", file=sys.stderr)
        return 2
    if args.screenshots.exists():
        shutil.rmtree(args.screenshots)
    start = time.monotonic()
    problems = check_pages(args.html, args.screenshots, args.width, args.height, chromium)
    n_pages = sum(1 for p in args.html.rglob("*.html") if "_static" not in p.parts)
    for problem in problems:
        print(problem)
    print(f"check_book: {n_pages} pages, {len(problems)} problems, {time.monotonic() - start:.0f} s; "
          f"screenshots in {args.screenshots}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
