"""`python -m ui [streamlit options]`: serve the UI with its modules imported once, up front.

Streamlit runs each browser session's script in its own thread. Left to the first sessions, the UI's own
modules would be imported by several threads at once, which Python 3.11's import system does not always
survive (a `KeyError` from importlib); importing them here, in the main thread, before the server starts,
avoids that.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import ui
import ui.components


def main() -> int:
    """Import every UI module, then hand over to `streamlit run ui/app.py` with the given options."""
    for package in (ui, ui.components):
        for module in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
            if module.name != "ui.__main__":
                importlib.import_module(module.name)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(Path(__file__).with_name("app.py")), *sys.argv[1:]]
    result: int = cli.main()
    return result


if __name__ == "__main__":
    sys.exit(main())
