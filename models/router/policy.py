"""The in-process router serving uses: `decide(context, eligible) -> Decision` and
`learn(decision_id, outcome)`, thread-safe, over the VW policy.

Every decision keeps its context, chosen gateway, propensity and full ranking until
its outcome arrives (bounded: the oldest pending decisions are dropped first).
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from pydantic import BaseModel, Field

from models.router.config import WorldConfig, load_config
from models.router.context import PaymentContext, derive_one, shared_features_one
from models.router.policies import Payment
from models.router.stats import FEATURES, gateway_segment
from models.router.vw_policy import VWRouter, reward_of
from smartpay.errors import InputError


class Outcome(BaseModel):
    """What the gateway answered for a routed payment."""

    success: bool
    latency_ms: float = Field(0.0, ge=0)
    decline_code: str | None = None


@dataclass(frozen=True)
class Decision:
    """A routing decision: gateway, its propensity and every eligible gateway ranked."""

    decision_id: str
    gateway: str
    probability: float
    ranking: list[str]
    probabilities: dict[str, float]
    context: dict
    # What the decision was computed from, for the decision log (`record_of`)
    record: dict | None = None


def record_of(p: Payment, row: dict, pmf: np.ndarray, feats: np.ndarray, action: int,
              names: list[str]) -> dict:
    """One decision as the decision log keeps it: the context (with its derived
    fields), the VW shared line and segment, and per gateway (in `names` order) its
    eligibility, fee share, gateway_stats features at decision time and probability;
    the action taken. Enough to replay the decision into VW exactly as it was seen
    (`models.router.served_log`)."""
    context = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    return {"context": context, "segment": p.segment, "shared": p.shared,
            "names": list(names),
            "eligible": [bool(e) for e in p.eligible], "fee_frac": p.fee_frac.tolist(),
            "stats": np.round(feats, 6).tolist(), "pmf": pmf.tolist(), "action_idx": action}


def push_row(gateway: str, segment: str, minute: int, seq: int,
             row: list[float]) -> dict:
    """One `gateway_stats` row as the push source takes it. Stamped at the statistics'
    minute (the batch table's `event_timestamp`) plus one microsecond per earlier push
    of that row in the same minute, so a later push is newer than the one stored (an
    online store may keep only a newer row)."""
    at = datetime.fromtimestamp(minute * 60, timezone.utc) + timedelta(microseconds=seq)
    out = {"gateway_segment": gateway_segment(gateway, segment), "event_timestamp": at}
    out.update({name: float(v) for name, v in zip(FEATURES, row)})
    out["attempts_1h"] = int(round(row[len(FEATURES)]))
    return out


class RouterPolicy:
    """Thread-safe online VW router with outcome learning; `snapshot()` hands its
    learned state to the checkpoint store (`models.router.checkpoints`)."""

    def __init__(self, cfg: WorldConfig | None = None, model_bytes: bytes | None = None,
                 seed: int = 0, max_pending: int = 100_000) -> None:
        self.cfg = cfg or load_config()
        self.names = self.cfg.gateway_names
        self.router = VWRouter(self.names, self.cfg.router, model_bytes)
        self._rng = np.random.default_rng(seed)
        self._fee_pct = np.array([g.fee.percent for g in self.cfg.gateways.values()])
        self._fee_fixed = np.array([g.fee.fixed_minor for g in self.cfg.gateways.values()])
        self._lock = threading.Lock()
        # decision id -> (payment, pmf, eligible action indices, VW example lines, action)
        self._pending: OrderedDict[str, tuple[Payment, np.ndarray, np.ndarray, list[str], int]] = OrderedDict()
        self.max_pending, self.learned = max_pending, 0
        # Segment id -> (minute, window sums) after its last outcome not yet handed out
        # for a push; per (gateway, segment id) the (minute, sequence, row) last pushed
        self._dirty: dict[int, tuple[int, np.ndarray]] = {}
        self._pushed: dict[tuple[int, int], tuple[int, int, list[float]]] = {}

    def _eligible(self, eligible_gateways: Sequence[str]) -> np.ndarray:
        if not eligible_gateways:
            raise InputError("eligible_gateways", list(eligible_gateways), "at least one gateway")
        mask = np.zeros(len(self.names), dtype=bool)
        for g in eligible_gateways:
            if g not in self.router.names:
                raise InputError("eligible_gateways", g, "one of " + ", ".join(self.names))
            mask[self.names.index(g)] = True
        return mask

    def eligible_for(self, context: PaymentContext | Mapping) -> list[str]:
        """Gateways whose configured capabilities (channel, currency, amount) fit."""
        ctx = context if isinstance(context, PaymentContext) else PaymentContext.model_validate(context)
        out = []
        for name, g in self.cfg.gateways.items():
            e = g.eligible
            if ((e.channels is None or ctx.channel in e.channels)
                    and (e.currencies is None or ctx.currency in e.currencies)
                    and (e.max_amount_minor is None or ctx.amount_minor <= e.max_amount_minor)):
                out.append(name)
        return out

    def _payment(self, ctx: PaymentContext, mask: np.ndarray,
                 now_s: float) -> tuple[Payment, dict]:
        row = derive_one(ctx, self.cfg)
        fee_frac = self._fee_pct * ctx.amount_minor / 100.0 + self._fee_fixed
        fee_frac = np.rint(fee_frac) / max(ctx.amount_minor, 1)
        return Payment(int(now_s // 60), row["segment"], mask, fee_frac,
                       shared_features_one(row)), row

    def decide(self, context: PaymentContext | Mapping, eligible_gateways: Sequence[str],
               now_s: float | None = None) -> Decision:
        """Pick a gateway for one payment; the decision is kept for `learn`."""
        ctx = context if isinstance(context, PaymentContext) else PaymentContext.model_validate(context)
        mask = self._eligible(eligible_gateways)
        p, row = self._payment(ctx, mask, time.time() if now_s is None else now_s)
        with self._lock:
            pmf = self.router.pmf(p)
            _, sid, idx, example, _, feats = self.router.last
            a = min(int(np.searchsorted(np.cumsum(pmf), self._rng.random() * pmf.sum())), len(pmf) - 1)
            while pmf[a] == 0:
                a -= 1
            decision_id = uuid.uuid4().hex
            self._pending[decision_id] = (p, pmf, idx, example, a)
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
        order = [int(i) for i in np.argsort(-pmf, kind="stable") if mask[i]]
        return Decision(decision_id, self.names[a], float(pmf[a]), [self.names[i] for i in order],
                        {self.names[i]: float(pmf[i]) for i in order}, ctx.model_dump(),
                        record_of(p, row, pmf, feats, a, self.names))

    def learn(self, decision_id: str, outcome: Outcome | Mapping) -> None:
        """Teach the policy the outcome of an earlier decision."""
        out = outcome if isinstance(outcome, Outcome) else Outcome.model_validate(outcome)
        r = self.cfg.reward
        with self._lock:
            pending = self._pending.pop(decision_id, None)
            if pending is None:
                raise InputError("decision_id", decision_id, "the id of a pending decision")
            p, pmf, idx, example, a = pending
            reward = reward_of(out.success, p.fee_frac[a], out.latency_ms, r.fee_weight, r.latency_weight_per_s)
            self.router.learn_example(example, idx, a, float(pmf[a]), reward)
            sid = self.router.stats.segment_id(p.segment)
            self.router.stats.advance(p.minute)
            self.router.stats.record(a, sid, out.success, out.latency_ms)
            self._mark(sid)
            self.learned += 1

    def take_rows(self) -> tuple[list[dict], tuple]:
        """The `gateway_stats` rows to push: every gateway's statistics in each segment
        with outcomes since the last push, as of its last outcome (the batch table's
        row of that minute, however late the push), less those equal to what was
        pushed last; and the batch to hand to `confirm` once written, or to `requeue`
        if the write failed (nothing is lost: the next call writes them, or newer)."""
        with self._lock:
            taken, self._dirty = self._dirty, {}
            segments, batch, rows = self.segment_names(), [], []
            for sid, (minute, sums) in sorted(taken.items()):
                for g, row in enumerate(self.router.stats.rows_of(sums).tolist()):
                    last = self._pushed.get((g, sid))
                    if last is not None and last[2] == row:
                        continue
                    seq = last[1] + 1 if last is not None and last[0] == minute else 0
                    batch.append((g, sid, (minute, seq, row)))
                    rows.append(push_row(self.names[g], segments[sid], minute, seq, row))
        return rows, (taken, batch)

    def confirm(self, batch: tuple) -> None:
        """Remember what a successful push wrote (unchanged rows are not pushed again)."""
        with self._lock:
            self._pushed.update({(g, sid): state for g, sid, state in batch[1]})

    def requeue(self, batch: tuple) -> None:
        """Hand back the segments of a failed push (unless newer outcomes replaced them)."""
        with self._lock:
            for sid, state in batch[0].items():
                self._dirty.setdefault(sid, state)

    def _mark(self, sid: int) -> None:
        """Keep segment `sid`'s window sums as of now for the next push (under the
        lock; its rows are computed when taken)."""
        stats = self.router.stats
        self._dirty[sid] = (stats.minute or 0, stats.sums(sid))

    def segment_names(self) -> list[str]:
        """Segment keys by segment id (id 0: the all-segments pseudo-segment)."""
        ids = self.router.stats.seg_ids
        return sorted(ids, key=ids.__getitem__)

    def segments(self) -> list[str]:
        """Every segment this router has routed (what its shared statistics cover)."""
        with self._lock:
            return self.segment_names()[1:]

    def checkpoint(self) -> bytes:
        """The current VW model bytes (consistent: taken under the lock)."""
        with self._lock:
            return self.router.model_bytes()

    def snapshot(self) -> bytes:
        """Everything online learning changed, taken consistently under the lock: the
        VW model, the window statistics and the learned count, as one npz blob.
        Decisions still waiting for their outcome are not in it (their outcomes,
        arriving after a restart, are acknowledged but not learned)."""
        with self._lock:  # copies only: compression runs after, without the lock
            arrays = {"vw": np.frombuffer(self.router.model_bytes(), dtype=np.uint8),
                      "learned": np.array(self.learned),
                      "gateways": np.array(self.names, dtype=str)}
            arrays.update({f"stats_{k}": np.array(v, copy=True)
                           for k, v in self.router.stats.state().items()})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_snapshot(cls, cfg: WorldConfig, blob: bytes, seed: int = 0,
                      **kwargs) -> RouterPolicy:
        """A policy that carries on from a `snapshot()` of one with the same config."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            if z["gateways"].tolist() != cfg.gateway_names:
                raise ValueError(f"checkpoint for gateways {z['gateways'].tolist()}, "
                                 f"config has {cfg.gateway_names}")
            policy = cls(cfg, z["vw"].tobytes(), seed=seed, **kwargs)
            policy.router.stats.restore({k.removeprefix("stats_"): z[k]
                                         for k in z.files if k.startswith("stats_")})
            policy.learned = int(z["learned"])
        # Push every restored segment once: the shared store then holds this state
        for sid in range(1, len(policy.router.stats.seg_ids)):
            policy._mark(sid)
        return policy
