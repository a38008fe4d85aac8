"""Sphinx extension: a reference to a name a package re-exports resolves to where the name is documented.

``mi_ssl.data`` re-exports ``SSLData`` from ``mi_ssl.data.base``; the API pages document it once, as
``mi_ssl.data.base.SSLData``, so ``{class}`mi_ssl.data.SSLData``` would otherwise go nowhere. For a Python
reference to ``mi_ssl.…`` that nothing resolved, this looks for the one documented object whose name starts with
the same package and ends with the same trailing name(s), and links there. Two candidates (an ambiguous name) or
none leave the reference unresolved, so Sphinx's nitpicky warning and ``make check-book`` still report it.
"""

from __future__ import annotations

from typing import Any

PACKAGE = "mi_ssl"


def reexport_target(target: str, documented: list[str] | set[str]) -> str | None:
    """The documented full name that ``target`` (``pkg.sub.Name[.attr]``) re-exports, or ``None``.

    The longest package prefix wins: ``mi_ssl.data.SSLData`` is looked up as ``mi_ssl.data.*.SSLData`` before
    ``mi_ssl.*.data.SSLData``.
    """
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix, tail = ".".join(parts[:cut]) + ".", "." + ".".join(parts[cut:])
        hits = [name for name in documented if name.startswith(prefix) and name.endswith(tail)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return None
    return None


def _resolve(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith(PACKAGE + "."):
        return None
    domain = env.get_domain("py")
    name = reexport_target(target, domain.objects.keys())
    if name is None:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
