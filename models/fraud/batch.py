"""Batch scoring of a table of feature rows: ids, score and decision (pure: no I/O).

Both engines produce the same columns; the Spark one (`batch_spark.py`) scores through
`mlflow.pyfunc.spark_udf` and applies the same thresholds as Spark expressions.
"""

from __future__ import annotations

import pandas as pd

from models.fraud.predictor import FraudPredictor
from models.fraud.thresholds import Thresholds

ID_COLUMNS = ("transaction_id", "customer_id", "terminal_id", "card_id")


def id_columns(columns: list[str]) -> list[str]:
    """The id columns a table has, in the output's order."""
    return [c for c in ID_COLUMNS if c in columns]


def score_frame(df: pd.DataFrame, predictor: FraudPredictor) -> pd.DataFrame:
    """Ids of each row with its fraud score and the decision of the thresholds."""
    scores = predictor.scores(df)
    out = df[id_columns(list(df.columns))].reset_index(drop=True)
    return out.assign(score=scores, decision=predictor.thresholds.decide_many(scores))


def thresholds_of(metadata: dict) -> Thresholds:
    """A registered version's decision thresholds, from its MLmodel metadata."""
    return Thresholds(**metadata["thresholds"])
