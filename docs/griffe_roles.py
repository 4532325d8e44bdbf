"""Griffe extension: render reST-isms of skelact docstrings (Sphinx roles, ``::`` blocks) for MkDocs.

skelact's docstrings use roles such as ``:func:`~skelact.data.io.load``` (readable in the source and in
``help()``). The Google-style parser of mkdocstrings would show them verbatim. This extension rewrites
each role into an *optional* mkdocs-autorefs reference: a link when the target is documented on the
site, plain code otherwise (never a warning, so the strict build does not depend on which modules are
documented yet).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(
    r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const|type)"
    r":`(?P<tilde>~?)(?P<target>[A-Za-z_][\w.]*)(?P<call>\(\))?`"
)

_LITERAL = re.compile(r"(?<=\S)::\n\n(?=[ \t]+\S)")
# reST definition list item: a short unindented term line, then lines indented by 4 spaces.
_DEFINITION = re.compile(
    r"^(?P<term>(?![*+\-]\s|\d+[.)]\s|>>>)[^\s].{0,58}[^:\s])\n(?P<body>(?: {4}\S.*(?:\n|$))+)", re.M
)


def _definitions(text: str) -> str:
    """reST definition lists -> Markdown ``def_list`` syntax (``Term`` / ``:   definition``)."""

    def sub(m: re.Match[str]) -> str:
        lines = m["body"].splitlines()
        body = "\n".join([f":   {lines[0].strip()}", *(f"    {line.strip()}" for line in lines[1:])])
        return f"{m['term']}\n{body}\n\n"  # a blank line ends each item

    return _DEFINITION.sub(sub, text)


def rewrite_roles(text: str, module: str | None = None) -> str:
    """Replace every Sphinx role in ``text`` by an optional autorefs reference; reST definition lists
    and ``::`` literal-block markers become their Markdown equivalents.

    ``module`` (dotted path of the module the docstring belongs to) qualifies names that do not start
    with ``skelact`` (``:meth:`StoreWriter.close``` in ``skelact.data.store`` refers to
    ``skelact.data.store.StoreWriter.close``).
    """

    def sub(m: re.Match[str]) -> str:
        target = m["target"]
        title = target.rsplit(".", 1)[-1] if m["tilde"] else target
        if m["call"]:
            title += "()"
        identifier = target if (target.startswith("skelact") or not module) else f"{module}.{target}"
        return f'<autoref optional identifier="{identifier}"><code>{title}</code></autoref>'

    text = _ROLE.sub(sub, _definitions(text))
    # reST literal-block marker: "a directory::" + indented block -> "a directory:" + code block
    return _LITERAL.sub(":\n\n", text)


class SphinxRoles(Extension):
    """Rewrite roles in every docstring once it has been collected."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj.docstring.value, obj.module.path)
