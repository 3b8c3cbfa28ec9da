"""The Vowpal Wabbit contextual-bandit router (`cb_explore_adf`).

Shared features describe the payment; each eligible gateway is one action line with
its id, its fee for this amount and its recent success rates and latency for the
payment's segment (the `gateway_stats` features: the router's own windows, or what
every router process shares through Feast when `shared` is set). On top of VW's own
exploration the router keeps a minimum probability for every healthy gateway and moves
traffic off gateways whose recent success rate collapsed (outage elimination, always
on the router's own windows: it must see a collapse at once).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from models.router.config import RouterOptions
from models.router.policies import Payment, eliminated, with_elimination
from models.router.stats import WindowStats


def vw_arguments(opts: RouterOptions) -> str:
    """The VW command line for a router configuration."""
    e = opts.exploration
    explore = {
        "epsilon": f"--epsilon {e.epsilon}",
        "squarecb": f"--squarecb --gamma_scale {e.gamma_scale}",
        "softmax": f"--softmax --lambda {e.lambda_}",
        "cover": f"--cover {e.cover}",
    }[e.algorithm]
    return f"--cb_explore_adf --cb_type {opts.cb_type} {explore} {opts.vw_args} --quiet"


def action_lines(names: list[str], idx: np.ndarray, fee_frac: np.ndarray, feats: np.ndarray) -> list[str]:
    """One VW line per eligible gateway: id, fee in percent, recent rates, latency."""
    return [f"|g id={names[k]} |r fee:{fee_frac[k] * 100:.3f} s15:{feats[k, 0]:.4f} "
            f"s1h:{feats[k, 1]:.4f} s24:{feats[k, 2]:.4f} lat:{feats[k, 3]:.3f}" for k in idx]


def reward_of(success: bool, fee_frac: float, latency_ms: float, fee_w: float, lat_w: float) -> float:
    """Multi-objective reward: success, less the fee share (when paid) and latency."""
    return float(success) * (1.0 - fee_w * fee_frac) - lat_w * latency_ms / 1000.0


class VWRouter:
    """Online VW cb_explore_adf with an exploration floor and outage elimination."""

    name = "vw"

    def __init__(self, names: list[str], opts: RouterOptions, model_bytes: bytes | None = None) -> None:
        self.names, self.opts = names, opts
        self.vw = _workspace(vw_arguments(opts), model_bytes)
        self.stats = WindowStats(len(names))
        # Where the gateway statistics of a segment are read from when not from
        # `stats` (`models.router.shared_stats.SharedStats`: Feast, cached); None: own.
        self.shared = None
        self.last: tuple | None = None

    def context_stats(self, segment: str, sid: int) -> np.ndarray:
        """K x 4 gateway statistics a decision in `segment` reads: the shared ones
        while they are cached and fresh, else this router's own windows."""
        shared = self.shared
        feats = shared.features(segment) if shared is not None else None
        return self.stats.features(sid) if feats is None else feats

    def features(self, p: Payment) -> tuple[int, np.ndarray, list[str], np.ndarray]:
        """Segment id, eligible action indices, the multi-line VW example and the
        gateway statistics it was built from."""
        self.stats.advance(p.minute)
        sid = self.stats.segment_id(p.segment)
        idx = np.flatnonzero(p.eligible)
        feats = self.context_stats(p.segment, sid)
        lines = action_lines(self.names, idx, p.fee_frac, feats)
        return sid, idx, [p.shared, *lines], feats

    def pmf(self, p: Payment) -> np.ndarray:
        sid, idx, example, feats = self.features(p)
        probs = np.asarray(_predict(self.vw, example), dtype=float)
        floor = self.opts.exploration.min_probability
        probs = (1.0 - floor * len(idx)) * probs / probs.sum() + floor
        pmf = np.zeros(len(self.names))
        pmf[idx] = probs
        out = eliminated(self.stats, sid, self.opts.elimination)
        pmf = with_elimination(pmf, out, self.opts.elimination.probe_probability)
        self.last = (p, sid, idx, example, pmf, feats)
        return pmf

    def update(self, p: Payment, action: int, success: bool, latency_ms: float, reward: float) -> None:
        """Learn from the outcome of the last decision (replay: decide, then update)."""
        last = self.last
        if last is None or last[0] is not p:
            self.pmf(p)
            last = self.last
        _, sid, idx, example, pmf, _ = last
        self.learn_example(example, idx, action, pmf[action], reward)
        self.stats.record(action, sid, success, latency_ms)

    def learn_example(self, example: list[str], idx: np.ndarray, action: int,
                      prob: float, reward: float) -> None:
        """Teach VW one labelled multi-line example (cost = -reward)."""
        pos = int(np.searchsorted(idx, action)) + 1
        labelled = list(example)
        labelled[pos] = f"0:{-reward:.5f}:{max(prob, 1e-6):.6f} {labelled[pos]}"
        _learn(self.vw, labelled)

    def model_bytes(self) -> bytes:
        """The VW model, for checkpoints and the registry."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "router.vw"
            self.vw.save(str(path))
            return path.read_bytes()


# pyvw wraps each parsed line in a Python Example object, which costs ~4x VW's own
# work for a 6-line example; the native calls below are what pyvw runs underneath.
def _predict(vw, lines: list[str]) -> list[float]:
    """Action probabilities, indexed like the action lines."""
    import pylibvw

    raw = pylibvw.vw._parse(vw, "\n".join(lines))
    try:
        pylibvw.vw.predict_multi(vw, raw)
        return raw[0].get_action_scores()
    finally:
        pylibvw.vw._finish_example_multi_ex(vw, raw)


def _learn(vw, lines: list[str]) -> None:
    """One online update from a labelled multi-line example."""
    import pylibvw

    raw = pylibvw.vw._parse(vw, "\n".join(lines))
    try:
        pylibvw.vw.learn_multi(vw, raw)
    finally:
        pylibvw.vw._finish_example_multi_ex(vw, raw)


def _workspace(args: str, model_bytes: bytes | None):
    """A VW workspace, fresh or restored from saved model bytes (pyvw reads files only)."""
    from vowpalwabbit import pyvw

    if model_bytes is None:
        return pyvw.Workspace(args)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.vw"
        path.write_bytes(model_bytes)
        return pyvw.Workspace(f"-i {path} --quiet")
