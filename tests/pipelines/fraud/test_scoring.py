"""`score fraud` and `train fraud --engine` refusals a user can act on (no Spark needed)."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.fraud.registry import RegistryError
from pipelines.fraud.scoring import score_table
from smartpay.errors import InputError
from smartpay.settings import get_settings


def test_scoring_without_a_champion_says_to_train_first(fresh_registry, tmp_path):
    table = tmp_path / "t.parquet"
    pd.DataFrame({"transaction_id": [1]}).to_parquet(table)
    with pytest.raises(RegistryError, match="smartpay train fraud"):
        score_table(get_settings(), table, tmp_path / "out.parquet", "pandas")


def test_scoring_a_missing_table_names_the_option_and_path(fresh_registry, tmp_path):
    with pytest.raises(InputError, match="--table"):
        score_table(get_settings(), tmp_path / "nope.parquet", tmp_path / "o", "pandas")


def test_training_a_table_on_spark_is_refused_with_the_flag_named(data_dir, tmp_path):
    from cli.main import app

    res = CliRunner().invoke(app, ["train", "fraud", "--engine", "spark", "--table",
                                   str(tmp_path / "t.parquet"), "--label", "y",
                                   "--time", "t"])
    assert isinstance(res.exception, InputError) and "--table" in str(res.exception)


def test_an_unknown_engine_is_refused_with_the_choices(data_dir, tmp_path):
    from cli.main import app

    res = CliRunner().invoke(app, ["score", "fraud", "--engine", "dask", "--table",
                                   str(tmp_path / "t.parquet"), "--out", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "pandas or spark" in str(res.exception)
