import { useEffect, useState } from "react";
import { call, subscribe, type Session } from "./api";
import { Reviews } from "./Reviews";

type ScoreBin = { lo: number; hi: number; count: number };
type FraudBucket = { start: string; payments: number; declined: number; review: number };
type Alert = { name: string; severity: string; firing: boolean; value: number | null;
  threshold: number; summary: string };
type FraudStats = { window_s: number; bucket_s: number; payments: number; scored: number;
  histogram: ScoreBin[]; series: FraudBucket[]; alerts: Alert[] };

const W = 560, H = 180, PAD = 28;

/** Risk scores of the window's payments, one bar per 0.05. */
function Histogram({ bins }: { bins: ScoreBin[] }) {
  const top = Math.max(1, ...bins.map((b) => b.count));
  const bw = (W - 2 * PAD) / bins.length;
  return (
    <figure className="chart" data-testid="histogram">
      <figcaption>risk score distribution (payments per 0.05 of score)</figcaption>
      <svg width={W} height={H} role="img" aria-label="risk score histogram">
        <line x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} stroke="#999" />
        <text x={4} y={PAD} fontSize="10">{top}</text>
        {[0, 0.5, 1].map((v) => (
          <text key={v} x={PAD + v * (W - 2 * PAD) - 6} y={H - PAD + 14} fontSize="10">{v}</text>
        ))}
        {bins.map((b, i) => {
          const h = (b.count / top) * (H - 2 * PAD);
          return (
            <rect key={i} x={PAD + i * bw + 1} y={H - PAD - h} width={bw - 2} height={h}
                  fill={b.lo >= 0.8 ? "#c92a2a" : b.lo >= 0.5 ? "#e8a317" : "#2d6cdf"}
                  data-count={b.count}><title>{`${b.lo.toFixed(2)}-${b.hi.toFixed(2)}: ${b.count}`}</title></rect>
          );
        })}
      </svg>
    </figure>
  );
}

/** Payments, fraud declines and reviews per bucket, stacked. */
function OverTime({ series, bucketS }: { series: FraudBucket[]; bucketS: number }) {
  const top = Math.max(1, ...series.map((b) => b.payments));
  const bw = (W - 2 * PAD) / Math.max(1, series.length);
  const y = (v: number) => (v / top) * (H - 2 * PAD);
  return (
    <figure className="chart" data-testid="over-time">
      <figcaption>per {bucketS} s: payments (grey), sent to review (amber), declined by the model (red)</figcaption>
      <svg width={W} height={H} role="img" aria-label="declines and reviews over time">
        <line x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} stroke="#999" />
        <text x={4} y={PAD} fontSize="10">{top}</text>
        {series.map((b, i) => {
          const x = PAD + i * bw;
          const other = b.payments - b.declined - b.review;
          return (
            <g key={i}>
              <rect x={x} y={H - PAD - y(b.declined)} width={Math.max(1, bw - 1)} height={y(b.declined)} fill="#c92a2a" />
              <rect x={x} y={H - PAD - y(b.declined + b.review)} width={Math.max(1, bw - 1)} height={y(b.review)} fill="#e8a317" />
              <rect x={x} y={H - PAD - y(b.payments)} width={Math.max(1, bw - 1)} height={y(other)} fill="#adb5bd" />
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

function pct(v: number | null) {
  return v === null ? "-" : `${(v * 100).toFixed(1)} %`;
}

export function Fraud({ session }: { session: Session }) {
  const [stats, setStats] = useState<FraudStats | null>(null);
  const [error, setError] = useState("");
  const admin = session.scopes.includes("admin");
  useEffect(() => {
    const load = () => call<FraudStats>(session, "/fraud/stats?window_s=3600&bucket_s=60")
      .then((s) => { setStats(s); setError(""); }, (e) => setError(e.message));
    load();
    // new payments move the charts at once; the poll moves the window along
    const stop = subscribe(session, (e) => { if (e.type === "payment_processed") load(); },
                           () => undefined);
    const t = setInterval(load, 5000);
    return () => { clearInterval(t); stop(); };
  }, [session]);
  return (
    <section>
      {!stats && <p>{error || "loading..."}</p>}
      {stats && (
        <>
          <div className="toolbar">
            <span>last {stats.window_s / 60} min, {stats.bucket_s} s buckets</span>
            <span data-testid="fraud-total">{stats.scored} scored</span>
            <span>of {stats.payments} payments</span>
          </div>
          {error && <p className="error" role="alert">{error}</p>}
          <table data-testid="alerts">
            <thead><tr><th>alert</th><th>severity</th><th>state</th><th>value</th><th>fires above</th><th></th></tr></thead>
            <tbody>
              {stats.alerts.map((a) => (
                <tr key={a.name} data-alert={a.name}>
                  <td>{a.name}</td><td>{a.severity}</td>
                  <td><span className={`status ${a.firing ? "declined" : "captured"}`}>{a.firing ? "firing" : "ok"}</span></td>
                  <td className="num">{a.name === "ReviewBacklog" ? a.value : pct(a.value)}</td>
                  <td className="num">{a.name === "ReviewBacklog" ? a.threshold : pct(a.threshold)}</td>
                  <td>{a.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="charts">
            <Histogram bins={stats.histogram} />
            <OverTime series={stats.series} bucketS={stats.bucket_s} />
          </div>
        </>
      )}
      {admin && <><h3>Review queue</h3><Reviews session={session} /></>}
    </section>
  );
}
