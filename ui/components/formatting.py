"""Small text helpers shared by the page's pieces."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def escape_markdown(text: str) -> str:
    """`text` shown literally by `st.markdown` (no emphasis, links, LaTeX or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def timestamp(seconds: float) -> str:
    """A video moment as m:ss, or h:mm:ss past an hour."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
