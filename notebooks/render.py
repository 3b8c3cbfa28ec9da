"""Execute the notebooks on the small world and save them with their outputs.

`make notebooks` runs every notebook here; `python notebooks/render.py NAME.ipynb ...`
runs some. Each runs in a fresh kernel whose data dir is a throwaway folder, with
SMARTPAY_NOTEBOOK_SMALL=1, so the figures committed with a notebook come from the same
small world the test suite executes. The tests import `execute` from here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def notebooks() -> list[Path]:
    """Every notebook of this folder, by name."""
    return sorted(HERE.glob("*.ipynb"))


def execute(path: Path, data_dir: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook top to bottom on the small world in `data_dir`; return it with
    outputs. A failing cell raises nbclient's CellExecutionError naming it."""
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "SMARTPAY_DATA_DIR": str(data_dir), "SMARTPAY_PROFILE": "local",
           "SMARTPAY_NOTEBOOK_SMALL": "1"}
    env.pop("MPLBACKEND", None)  # each notebook asks for the inline backend itself
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(REPO)}})
    client.execute(env=env)
    return nb


def render(path: Path) -> float:
    """Execute one notebook in a throwaway data dir and write it back; seconds taken."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smartpay-nb-") as tmp:
        nb = execute(path, Path(tmp) / "data")
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(names: list[str]) -> None:
    paths = [HERE / n for n in names] if names else notebooks()
    for path in paths:
        print(f"{path.name}: executed in {render(path):.0f} s, {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1:])
