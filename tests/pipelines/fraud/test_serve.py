"""The serving face: raw transaction facts -> Feast online features -> decision."""

from models.fraud import registry
from models.fraud.serve import load_champion


def test_online_champion_scores_raw_transactions_like_the_offline_predictor(world):
    from pipelines.features.pipeline import materialize

    settings, out = world
    materialize(settings)
    model = load_champion()
    assert model.version == out.version and load_champion.probe() == out.version
    window = registry.connect(settings).load_frame(out.version).tail(3)
    rows = [{"customer_id": int(r.customer_id), "terminal_id": int(r.terminal_id),
             "card_id": int(r.card_id), "amount_minor": int(round(r.amount * 100)),
             "tx_epoch_s": int(r.event_timestamp.timestamp())} for r in window.itertuples()]
    got = model.predict(rows)
    assert [set(g) for g in got] == [{"risk_score", "decision", "top_features"}] * 3
    assert all(0 <= g["risk_score"] <= 1 for g in got)
    assert all(g["decision"] in {"approve", "review", "decline"} for g in got)
    assert all(len(g["top_features"]) == 3 for g in got)
