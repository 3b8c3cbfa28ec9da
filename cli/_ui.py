"""Console helpers shared by commands (rich)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

console = Console(stderr=False, highlight=False)


@contextmanager
def spinner(text: str) -> Iterator[None]:
    """Show a progress spinner while a long step runs (only on a terminal)."""
    if not console.is_terminal:
        yield
        return
    with console.status(text):
        yield
