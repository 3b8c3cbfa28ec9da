"""GET /payments: a merchant's newest payments only, every merchant's for an operator,
filtered by status, the limit bounded and named when wrong."""

from __future__ import annotations

import uuid

from tests.serving.conftest import auth, pay_body


def test_payments_are_listed_per_merchant_newest_first_and_all_for_admin(client):
    made = {m: [client.post("/pay", json=pay_body(amount_minor=1_000 + i),
                            headers=auth(m, key=uuid.uuid4().hex)).json()["payment_id"]
                for i in range(3)] for m in ("m-a", "m-b")}
    mine = client.get("/payments", headers=auth("m-a")).json()
    assert [p["payment_id"] for p in mine] == made["m-a"][::-1]
    assert {p["merchant_id"] for p in mine} == {"m-a"}
    every = client.get("/payments?limit=200", headers=auth("ops", scopes=("admin",))).json()
    assert set(made["m-a"] + made["m-b"]) <= {p["payment_id"] for p in every}
    assert client.get("/payments?status=declined", headers=auth("m-a")).json() == []
    assert len(client.get("/payments?limit=2", headers=auth("m-b")).json()) == 2
    bad = client.get("/payments?limit=0", headers=auth("m-a"))
    assert bad.status_code == 422 and "limit" in bad.text
    bad = client.get("/payments?status=lost", headers=auth("m-a"))
    assert bad.status_code == 422 and "status" in bad.text
