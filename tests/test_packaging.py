"""The wheel built from the repository installs into a fresh virtual environment and runs.

What it proves: the wheel carries every module and data file the commands read (the
commands run from a folder outside the checkout, with the checkout off `sys.path`), and
`[project].dependencies` (plus the `rag` extra for `kb build`) names every third-party
distribution they import. What it does not prove: that the ranges resolve from PyPI on
another machine (this one reaches no PyPI mirror fast enough for a test).

How, offline and in seconds: a fresh venv (no system site-packages) gets the wheel with
`--no-deps`; third-party code comes from the shared venv, but only through a folder of
symlinks to the distributions in the closure of the wheel's declared requirements. A
dependency the wheel forgets is missing in that folder, and its import fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(
    metadata.distribution("pydantic").locate_file("")
)  # the shared site-packages


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str], extras: set[str]) -> set[str]:
    """Names of the installed distributions the requirements reach, extras followed."""
    seen: set[str] = set()
    todo = [(Requirement(r), extras) for r in requirements]
    while todo:
        req, active = todo.pop()
        if req.marker and not any(
            req.marker.evaluate({"extra": e}) for e in active or {""}
        ):
            continue
        name = _norm(req.name)
        dist = metadata.distribution(req.name)  # missing here: the test cannot run
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or []]
    return {k.split("[")[0] for k in seen}


def _view(names: set[str], folder: Path) -> Path:
    """A folder holding symlinks to the top-level files of just these distributions."""
    folder.mkdir()
    for name in names:
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops - {"..", "__pycache__"}:
            if (SITE / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(SITE / top)
    return folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        ["rm", "-rf", str(ROOT / "build")], check=True
    )  # build's scratch dir
    (path,) = out.glob("smartpay_platform-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory):
    """(run, use_extras): a fresh venv with the wheel; `use_extras` picks the view."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root / "env", with_pip=False)
    env_site = next((root / "env" / "lib").glob("python3.*/site-packages"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(root / "env/bin/python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    requires = metadata.Distribution.at(
        next(env_site.glob("smartpay_platform-*.dist-info"))
    ).requires
    views = {}

    def use_extras(*extras: str) -> None:
        key = extras or ("core",)
        if key not in views:
            names = _closure(requires, set(extras))
            views[key] = _view(names, root / f"view-{'-'.join(key)}")
        (env_site / "deps.pth").write_text(f"{views[key]}\n")

    cwd = tmp_path_factory.mktemp("elsewhere")
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env |= {"SMARTPAY_DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(root / "env/bin/smartpay"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    run.cwd = cwd  # type: ignore[attr-defined]

    return run, use_extras


def test_the_wheel_is_named_for_pypi_and_declares_its_extras(wheel):
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
        names = z.namelist()
    assert "Name: smartpay-platform" in meta
    for extra in ("serving", "rag", "aws", "spark", "dev"):
        assert f"Provides-Extra: {extra}" in meta
    assert "Requires-Dist: typer" in meta
    for data in (
        "integrations/rag/kb/payments.md",
        "serving/ledger/alembic.ini",
        "features/envs/local/feature_store.yaml",
        "features/.feastignore",
        "models/router/config/default.yaml",
        "models/router/config/regional.yaml",
    ):
        assert data in names, data


@pytest.mark.slow
def test_smartpay_help_and_simulate_run_from_the_wheel_with_core_dependencies_only(
    fresh_venv,
):
    run, use_extras = fresh_venv
    use_extras()
    help_ = run("--help")
    assert help_.returncode == 0 and "simulate" in help_.stdout, help_.stderr[-2000:]
    sim = run(
        "simulate", "--days", "3", "--customers", "50", "--terminals", "100", "--json"
    )
    assert sim.returncode == 0, sim.stderr[-3000:]
    assert sim.stdout.strip()
    assert any((Path(run.cwd) / "data").rglob("*.parquet"))


@pytest.mark.slow
def test_kb_build_reads_the_knowledge_base_shipped_in_the_wheel(fresh_venv):
    run, use_extras = fresh_venv
    use_extras()  # the view really restricts: without the extra, the embedder is missing
    assert "ModuleNotFoundError" in run("kb", "build").stderr
    use_extras("rag")
    built = run("kb", "build", "--json")
    assert built.returncode == 0, built.stderr[-3000:]
    summary = json.loads(built.stdout.strip().splitlines()[-1])
    assert summary["passages"] > 0 and summary["sections"] > 0


def _pins(text: str) -> dict[str, str]:
    return {
        _norm(m[1]): m[2]
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s\\+;]+)", text, re.MULTILINE)
    }


def test_the_portable_lock_pins_the_tested_versions_each_with_hashes():
    tested = _pins((ROOT / "requirements.lock").read_text())
    text = (ROOT / "requirements-portable.lock").read_text()
    portable = _pins(text)
    tested.pop("torch")  # from the PyTorch CPU index, outside the hashed lock
    assert {k: portable.get(k) for k in tested} == tested, "run `make lock`"
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1])
    assert all("--hash=sha256:" in e for e in entries if e.strip())
    torch_only = (ROOT / "requirements-portable.exclude").read_text().split()
    assert "torch" not in portable and not set(torch_only) & set(portable)
