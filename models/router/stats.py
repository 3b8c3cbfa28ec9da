"""Recent success rate and latency per gateway x segment over 15 min / 1 h / 24 h.

The online twin of the Feast view `gateway_stats` (features/views/gateway.py): counts
live in one-minute buckets of a 24 h ring, and each window keeps a running sum, so an
update or a lookup costs O(K) whatever the traffic. Rates are smoothed towards a prior
so a segment with three attempts does not read as 0 % or 100 %.

A segment's statistics as of now, every gateway's (`rows`), are what the served
router pushes to Feast after outcomes in the segment (`models.router.shared_stats`)
and what the batch build writes for each minute with traffic in the segment
(`pipelines.router.nodes.gateway_stats_table`): one implementation for training,
replays and serving.
"""

from __future__ import annotations

import numpy as np

WINDOWS_MIN = (15, 60, 1440)
RING = 1440
FEATURES = ("sr_15m", "sr_1h", "sr_24h", "latency_1h_s")
ROW = (*FEATURES, "attempts_1h")  # the columns of a `gateway_stats` row
ALL = "*"  # pseudo-segment holding every segment's counts (segment id 0)
# Smoothing shared by this online tracker and the batch `gateway_stats` build
# (pipelines/router/nodes.py): a rate starts at PRIOR_SR with PRIOR_WEIGHT pseudo-attempts,
# a latency at PRIOR_LATENCY_MS with one.
PRIOR_SR, PRIOR_WEIGHT, PRIOR_LATENCY_MS = 0.9, 2.0, 500.0
# A gateway x segment without outcomes (the view has no row for it; readers fill this).
PRIOR_ROW = (PRIOR_SR, PRIOR_SR, PRIOR_SR, PRIOR_LATENCY_MS / 1000.0, 0.0)


def gateway_segment(gateway: str, segment: str) -> str:
    """The `gateway_segment` entity key, e.g. 'stripe|visa:US:ecommerce'."""
    return f"{gateway}|{segment}"


class WindowStats:
    """Windowed attempts, successes and latency sums for K gateways x segments."""

    def __init__(self, n_gateways: int, prior_sr: float = PRIOR_SR,
                 prior_weight: float = PRIOR_WEIGHT,
                 prior_latency_ms: float = PRIOR_LATENCY_MS) -> None:
        self.k, self.prior_sr, self.prior_w = n_gateways, prior_sr, prior_weight
        self.prior_lat = prior_latency_ms
        self.seg_ids: dict[str, int] = {ALL: 0}
        self._alloc(64)
        self.minute: int | None = None

    def _alloc(self, s: int) -> None:
        old = getattr(self, "ring", None)
        self.ring = np.zeros((3, RING, self.k, s))  # attempts, successes, latency sum
        self.win = np.zeros((len(WINDOWS_MIN), 3, self.k, s))
        if old is not None:
            self.ring[..., : old.shape[-1]] = old
            self.win[..., : old.shape[-1]] = self._old_win

    def segment_id(self, segment: str) -> int:
        """Stable integer id of a segment key, growing the tables when needed."""
        sid = self.seg_ids.get(segment)
        if sid is None:
            sid = self.seg_ids[segment] = len(self.seg_ids)
            if sid >= self.ring.shape[-1]:
                self._old_win = self.win
                self._alloc(2 * self.ring.shape[-1])
        return sid

    def advance(self, minute: int) -> None:
        """Move the clock to `minute`, dropping buckets that left each window."""
        if self.minute is None:
            self.minute = minute
            return
        steps = min(minute - self.minute, RING)
        for m in range(minute - steps + 1, minute + 1):
            for w, length in enumerate(WINDOWS_MIN):
                self.win[w] -= self.ring[:, (m - length) % RING]
            self.ring[:, m % RING] = 0.0
        if minute - self.minute > RING:
            self.win[:] = 0.0
        self.minute = max(self.minute, minute)

    def record(self, gateway: int, sid: int, success: bool, latency_ms: float) -> None:
        """Count one outcome in the current minute and every window (segment and all)."""
        obs = np.array([1.0, float(success), latency_ms])
        slot = self.minute % RING
        for s in (sid, 0) if sid else (0,):
            self.ring[:, slot, gateway, s] += obs
            self.win[:, :, gateway, s] += obs

    def state(self) -> dict[str, np.ndarray]:
        """The counts, windows, segment ids and clock, as arrays (for checkpoints)."""
        keys = sorted(self.seg_ids, key=self.seg_ids.__getitem__)
        return {"ring": self.ring, "win": self.win, "segments": np.array(keys, dtype=str),
                "minute": np.array(-1 if self.minute is None else self.minute)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Take back what `state` gave (the gateway count must be the same)."""
        ring, win = np.asarray(state["ring"], float), np.asarray(state["win"], float)
        if ring.shape[2] != self.k:
            raise ValueError(f"stats for {ring.shape[2]} gateways, router has {self.k}")
        self.ring, self.win = ring.copy(), win.copy()
        self.seg_ids = {str(k): i for i, k in enumerate(state["segments"].tolist())}
        minute = int(state["minute"])
        self.minute = None if minute < 0 else minute

    def attempts(self, window: int, sid: int = 0) -> np.ndarray:
        """Attempts per gateway in window `window` (index into WINDOWS_MIN); sid 0 = all."""
        return self.win[window, 0, :, sid]

    def success_rate(self, window: int, sid: int = 0) -> np.ndarray:
        """Smoothed success rate per gateway in a window; sid 0 = all segments."""
        w = self.win[window, :, :, sid]
        return (w[1] + self.prior_w * self.prior_sr) / (w[0] + self.prior_w)

    def features(self, sid: int) -> np.ndarray:
        """K x 4 array: sr_15m, sr_1h, sr_24h, mean latency over 1 h (seconds)."""
        w = self.win[:, :, :, sid]  # windows x (n, s, lat) x K
        out = np.empty((self.k, len(FEATURES)))
        out[:, :3] = ((w[:, 1] + self.prior_w * self.prior_sr) / (w[:, 0] + self.prior_w)).T
        out[:, 3] = (w[1, 2] + self.prior_lat) / (w[1, 0] + 1.0) / 1000.0
        return out

    def sums(self, sid: int) -> np.ndarray:
        """A copy of a segment's window sums now (for `rows_of` later)."""
        return self.win[:, :, :, sid].copy()

    def rows_of(self, sums: np.ndarray) -> np.ndarray:
        """K x 5 `gateway_stats` rows (ROW order) from a segment's window sums (`sums`):
        `features` and the attempts over 1 h."""
        out = np.empty((self.k, len(ROW)))
        out[:, :3] = ((sums[:, 1] + self.prior_w * self.prior_sr)
                      / (sums[:, 0] + self.prior_w)).T
        out[:, 3] = (sums[1, 2] + self.prior_lat) / (sums[1, 0] + 1.0) / 1000.0
        out[:, 4] = sums[1, 0]
        return out

    def rows(self, sid: int) -> np.ndarray:
        """K x 5 `gateway_stats` rows of a segment now."""
        return self.rows_of(self.win[:, :, :, sid])
