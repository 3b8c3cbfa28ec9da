"""File edges shared by pipelines: atomic writes and checked reads.

A table is one parquet file or a folder of them (day partitions `tx_date=YYYY-MM-DD/`
written by the simulator, or a Spark job's output); readers get the same frame either
way. Timestamps are written in microseconds: Spark cannot read nanosecond parquet
timestamps, and the simulator's times are whole seconds, so nothing is lost.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
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
        df.to_parquet(tmp, index=False, **PARQUET_OPTIONS)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Microsecond timestamps (readable by Spark and DuckDB alike); fail rather than
# silently truncate finer times.
PARQUET_OPTIONS = {"coerce_timestamps": "us", "allow_truncated_timestamps": False}
PARTITION = "tx_date"


def write_partitioned_atomic(days: Iterable[tuple[str, pd.DataFrame]],
                             path: Path) -> None:
    """Write (day, frame) pairs as `path/tx_date=<day>/part-0.parquet`, one day in
    memory at a time, into a sibling folder that replaces `path` once complete."""
    path = Path(path)
    check_writable(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        for day, df in days:
            folder = tmp / f"{PARTITION}={day}"
            folder.mkdir()
            df.to_parquet(folder / "part-0.parquet", index=False, **PARQUET_OPTIONS)
        replace_path(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_path(new: Path, final: Path) -> None:
    """Move `new` (file or folder) to `final`, replacing whatever was there: a file
    over a file in one atomic rename; a folder (a pandas table rebuilt on Spark, or
    back) is first moved aside, then deleted."""
    old = None
    if final.is_dir() or (final.exists() and new.is_dir()):
        old = final.with_name(f".{final.name}.old.{os.getpid()}")
        os.replace(final, old)
    os.replace(new, final)
    if old is not None and old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    elif old is not None:
        old.unlink(missing_ok=True)


def read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet or CSV table; a missing or corrupt file names the file."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "does not exist")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, usecols=columns)
        return _read_parquet(path, columns)
    except (OSError, ValueError) as exc:
        raise DataFileError(path, f"cannot be read as a table ({exc})") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataFileError(path, f"is corrupt or not a table ({type(exc).__name__})") from None


def _read_parquet(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """A file or a partitioned folder (in partition, i.e. day, order, without the
    partition column unless asked for), timestamps in nanoseconds as pandas expects."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning="hive")
    if columns is None:
        columns = [c for c in dataset.schema.names if c != PARTITION]
    table = dataset.to_table(columns=columns)
    return table.to_pandas(coerce_temporal_nanoseconds=True)
