"""Table files: a parquet file or a folder of partitions reads back the same."""

from __future__ import annotations

import pandas as pd

from pipelines.io import read_table, replace_path, write_partitioned_atomic


def _days() -> list[tuple[str, pd.DataFrame]]:
    stamps = pd.to_datetime(["2018-04-01 10:00", "2018-04-01 11:00", "2018-04-02 09:00"])
    df = pd.DataFrame({"transaction_id": [0, 1, 2], "timestamp": stamps})
    return [("2018-04-01", df.iloc[:2]), ("2018-04-02", df.iloc[2:])]


def test_day_partitions_read_back_in_order_without_the_partition_column(tmp_path):
    out = tmp_path / "tx.parquet"
    write_partitioned_atomic(_days(), out)
    got = read_table(out)
    assert list(got.columns) == ["transaction_id", "timestamp"]
    assert got["transaction_id"].tolist() == [0, 1, 2]
    assert str(got["timestamp"].dtype) == "datetime64[ns]"


def test_a_table_rebuilt_as_a_folder_or_a_file_replaces_the_old_one(tmp_path):
    final = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(final)
    folder = tmp_path / "t.parquet.tmp"
    write_partitioned_atomic(_days(), folder)
    replace_path(folder, final)
    assert len(read_table(final)) == 3
    single = tmp_path / "single.tmp"
    pd.DataFrame({"a": [7]}).to_parquet(single)
    replace_path(single, final)
    assert read_table(final)["a"].tolist() == [7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]
