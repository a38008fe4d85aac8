"""Offline math for the book: KaTeX rendered at build time, its stylesheet and fonts served from ``_static``.

Two uses of one module:

* ``python tools/katex_offline.py DEST`` (run by ``make env``) copies ``katex.min.css`` and the KaTeX fonts of the
  version that ``sphinxcontrib-katex`` renders with from the npm registry's ``katex`` package into ``DEST``
  (``book/_static/katex``) and writes ``DEST/VERSION``. It does nothing when ``DEST`` already holds that version.
* As a Sphinx extension (``sphinx.local_extensions`` in ``_config.yml``) it hands the ``katex_macros`` setting to
  the build-time renderer (``sphinxcontrib.katex`` ignores ``katex_options`` when ``katex_prerender`` is on) and
  stops the build with one clear message when the stylesheet is missing or of another version, instead of a book
  whose formulas have no fonts.

The built pages then load no script for math and nothing from another host.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

STYLESHEET = "katex.min.css"


def katex_version() -> str:
    """The KaTeX version that ``sphinxcontrib-katex`` renders with (its bundled ``katex.min.js``)."""
    from sphinxcontrib import katex

    return katex.katex_version


def is_current(dest: Path, version: str) -> bool:
    """True when ``dest`` holds the stylesheet and fonts of KaTeX ``version``."""
    stamp = dest / "VERSION"
    return (dest / STYLESHEET).is_file() and (dest / "fonts").is_dir() and stamp.is_file() and (
        stamp.read_text().strip() == version
    )


def fetch(dest: Path, version: str | None = None) -> Path:
    """Copy KaTeX ``version``'s ``katex.min.css`` and ``fonts/`` from the npm package into ``dest``."""
    version = version or katex_version()
    if is_current(dest, version):
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("katex_offline: npm not found; the book's math fonts come from the npm package "
                         f"'katex@{version}'. Install Node.js and npm (Debian: apt-get install -y nodejs npm).")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", "--silent", f"katex@{version}"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("katex-*.tgz")
        with tarfile.open(tarball) as tar:
            wanted = (f"package/dist/{STYLESHEET}", "package/dist/fonts/")
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(wanted)]
            tar.extractall(tmp, members=members, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp) / "package" / "dist", dest)
    (dest / "VERSION").write_text(version + "\n")
    return dest


# --------------------------------------------------------------------------- Sphinx extension
def _configure_renderer(app: Any, config: Any) -> None:
    from sphinxcontrib import katex

    # The render server is a Node.js process. On a loaded machine its start can take longer than the default 5 s.
    katex.STARTUP_TIMEOUT = max(katex.STARTUP_TIMEOUT, 120.0)
    katex.RENDER_TIMEOUT = max(katex.RENDER_TIMEOUT, 120.0)
    if os.name == "posix":
        katex.KaTeXServer.start_server_process = classmethod(_start_server_process)
    macros = dict(config.katex_macros)
    katex.KATEX_DEFAULT_OPTIONS["macros"] = macros
    if not config.katex_options:  # the same macros for client-side rendering, should prerendering be switched off
        entries = ", ".join(f"{_js(name)}: {_js(body)}" for name, body in macros.items())
        config.katex_options = "macros: {" + entries + "}"


def _start_server_process(cls: Any, rundir: Path, timeout: float) -> tuple[subprocess.Popen, socket.socket]:
    """Start the KaTeX render server on a Unix socket and connect, retrying until it listens.

    ``sphinxcontrib.katex`` connects once as soon as the socket file exists, which races the server's ``listen()``
    ("Connection refused", seen on a loaded 2-core machine); its TCP fallback retries but pays ~40 ms of Nagle delay
    per formula. This is its Unix-socket start with the retry, and the server is stopped when it never answers.
    """
    socket_path = rundir / "katex.sock"
    process = subprocess.Popen(cls.build_command(socket=socket_path), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, cwd=rundir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if socket_path.is_socket():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(socket_path))
                return process, sock
            except ConnectionRefusedError:
                sock.close()
        time.sleep(0.01)
    process.kill()
    raise cls.timeout_error(timeout)


def _js(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_stylesheet(app: Any) -> None:
    from sphinx.errors import ExtensionError

    css = app.config.katex_css_path
    if css.startswith(("http://", "https://", "//")):
        raise ExtensionError(f"katex_css_path={css!r} loads from another host; the book must render offline")
    version = katex_version()
    for static in app.config.html_static_path:
        folder = (Path(app.confdir) / static / css).parent
        if (folder / STYLESHEET).is_file():
            if not is_current(folder, version):
                raise ExtensionError(f"{folder} is not KaTeX {version} (the renderer's version); "
                                     f"run `make env` or `python tools/katex_offline.py {folder}`")
            return
    raise ExtensionError(f"KaTeX stylesheet {css!r} not found in html_static_path {app.config.html_static_path}; "
                         "run `make env` or `python tools/katex_offline.py book/_static/katex`")


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinxcontrib.katex")
    app.add_config_value("katex_macros", {}, "html", types=[dict])
    app.connect("config-inited", _configure_renderer)
    app.connect("builder-inited", _check_stylesheet)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tools/katex_offline.py DEST   (e.g. book/_static/katex)")
    print(f"KaTeX {katex_version()} stylesheet and fonts in {fetch(Path(sys.argv[1]))}")
