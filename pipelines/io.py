"""File edges shared by pipelines: atomic writes and checked reads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from smartpay.errors import DataFileError


def check_writable(path: Path) -> None:
    """Fail early with the path named if `path` cannot be created."""
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(path, f"cannot create its folder ({exc.strerror})") from None
    if not os.access(parent, os.W_OK) or (path.exists() and path.is_dir()):
        raise DataFileError(path, "is not writable")


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half."""
    path = Path(path)
    check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet or CSV table; a missing or corrupt file names the file."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "does not exist")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, usecols=columns)
        return pd.read_parquet(path, columns=columns)
    except (OSError, ValueError) as exc:
        raise DataFileError(path, f"cannot be read as a table ({exc})") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataFileError(path, f"is corrupt or not a table ({type(exc).__name__})") from None
