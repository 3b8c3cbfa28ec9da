import { useEffect, useState } from "react";
import { call, type Session } from "./api";

type Bucket = { start: string; attempts: number; approved: number;
  approval_rate: number | null; mean_latency_ms: number | null };
type Gateway = { name: string; breaker: string; attempts: number; approval_rate: number | null;
  routed_share: number; series: Bucket[] };
type Stats = { window_s: number; bucket_s: number; decisions: number;
  exploration_share: number | null; gateways: Gateway[] };

const COLORS = ["#2d6cdf", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285"];

/** Approval rate (or attempts) per gateway over the window, one line each. */
function Chart({ stats, metric, label }: { stats: Stats; metric: "approval_rate" | "attempts"; label: string }) {
  const w = 560, h = 180, pad = 28;
  const n = stats.gateways[0]?.series.length ?? 0;
  const top = metric === "approval_rate" ? 1
    : Math.max(1, ...stats.gateways.flatMap((g) => g.series.map((b) => b.attempts)));
  const x = (i: number) => pad + (i * (w - 2 * pad)) / Math.max(1, n - 1);
  const y = (v: number) => h - pad - (v / top) * (h - 2 * pad);
  return (
    <figure className="chart" data-testid={`chart-${metric}`}>
      <figcaption>{label}</figcaption>
      <svg width={w} height={h} role="img" aria-label={label}>
        <line x1={pad} y1={h - pad} x2={w - pad} y2={h - pad} stroke="#999" />
        <text x={4} y={pad} fontSize="10">{metric === "approval_rate" ? "100%" : top}</text>
        <text x={4} y={h - pad} fontSize="10">0</text>
        {stats.gateways.map((g, k) => {
          const color = COLORS[k % COLORS.length];
          const xy = g.series.map((b, i) => [i, metric === "approval_rate" ? b.approval_rate : b.attempts] as const)
            .filter(([, v]) => v !== null).map(([i, v]) => [x(i), y(v as number)] as const);
          return (
            <g key={g.name}>
              <polyline data-gateway={g.name} fill="none" strokeWidth={2} stroke={color}
                        points={xy.map(([a, b]) => `${a},${b}`).join(" ")} />
              {xy.map(([a, b], i) => <circle key={i} cx={a} cy={b} r={2.5} fill={color} />)}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function Gateways({ session }: { session: Session }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () => call<Stats>(session, "/admin/gateways?window_s=300&bucket_s=5")
      .then((s) => { setStats(s); setError(""); }, (e) => setError(e.message));
    load();
    const t = setInterval(load, 1000);
    return () => clearInterval(t);
  }, [session]);
  if (!stats) return <section>{error || "loading..."}</section>;
  return (
    <section>
      <div className="toolbar">
        <span>last {stats.window_s / 60} min, {stats.bucket_s} s buckets</span>
        <span>{stats.decisions} routing decisions, exploration {stats.exploration_share === null ? "-"
          : `${(stats.exploration_share * 100).toFixed(1)} %`}</span>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <table data-testid="gateways">
        <thead><tr><th>gateway</th><th>breaker</th><th>attempts</th><th>approval rate</th>
          <th>router's share</th></tr></thead>
        <tbody>
          {stats.gateways.map((g, k) => (
            <tr key={g.name} data-gateway={g.name}>
              <td><span className="swatch" style={{ background: COLORS[k % COLORS.length] }} /> {g.name}</td>
              <td><span className={`status ${g.breaker === "open" ? "declined" : "captured"}`}
                        data-testid={`breaker-${g.name}`}>{g.breaker}</span></td>
              <td className="num">{g.attempts}</td>
              <td className="num" data-testid={`rate-${g.name}`}>
                {g.approval_rate === null ? "-" : `${(g.approval_rate * 100).toFixed(1)} %`}</td>
              <td className="num">{(g.routed_share * 100).toFixed(1)} %</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="charts">
        <Chart stats={stats} metric="approval_rate" label="approval rate per gateway" />
        <Chart stats={stats} metric="attempts" label="attempts per gateway" />
      </div>
    </section>
  );
}
