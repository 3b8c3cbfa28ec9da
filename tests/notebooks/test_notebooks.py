"""The notebooks run end to end on the small world, draw every figure they promise,
and are committed with those outputs (rendered by `make notebooks`)."""

from __future__ import annotations

import nbformat
import pytest

from notebooks.render import execute, notebooks

NOTEBOOKS = {p.name: p for p in notebooks()}

# Text each notebook's outputs must show, beyond its figures.
EXPECTED_TEXT = {
    "fraud_exploration.ipynb": ["xgboost_tuned", "CP@100 per test day"],
    "router_policies.ipynb": ["static_rule", "sliding_window_sr", "thompson", "vw (offline)",
                              "covers truth", "oracle auth rate"],
}
MAX_BYTES = 2_000_000


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _figure_cells(nb) -> list:
    return [c for c in _code_cells(nb) if "figure" in c.metadata.get("tags", [])]


def _has_png(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _text(nb) -> str:
    return " ".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                    for c in _code_cells(nb) for o in c.get("outputs", []))


def test_every_notebook_has_its_expected_outputs_listed():
    assert set(NOTEBOOKS) == set(EXPECTED_TEXT)


@pytest.mark.parametrize("name", sorted(EXPECTED_TEXT))
def test_committed_notebook_keeps_the_outputs_and_pictures_of_one_full_run(name):
    path = NOTEBOOKS[name]
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), \
        f"{name} is not saved from one top-to-bottom run: run `make notebooks`"
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    figures = _figure_cells(nb)
    assert figures and all(_has_png(c) for c in figures), f"{name} lost a figure"
    assert all(t in _text(nb) for t in EXPECTED_TEXT[name])
    assert path.stat().st_size < MAX_BYTES


@pytest.mark.parametrize("name", sorted(EXPECTED_TEXT))
def test_notebook_runs_on_the_small_world_and_draws_every_figure(name, tmp_path):
    nb = execute(NOTEBOOKS[name], tmp_path / "data")  # a failing cell raises, naming it
    figures = _figure_cells(nb)
    assert figures
    assert [c.source.splitlines()[-1] for c in figures if not _has_png(c)] == []
    text = _text(nb)
    assert [t for t in EXPECTED_TEXT[name] if t not in text] == []
