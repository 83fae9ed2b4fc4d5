"""Sphinx extension: the `{zh}` role marks a span of Chinese text.

``{zh}`注意力头` `` renders as `<span lang="zh">注意力头</span>` (docutils turns a
`language-zh` class into the `lang` attribute), so that browsers pick a Chinese font and
screen readers a Chinese voice for it, on a page whose language is English.
"""

from __future__ import annotations

from docutils import nodes


def zh_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.inline(rawtext, text, classes=["language-zh"])], []


def setup(app):
    app.add_role("zh", zh_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
