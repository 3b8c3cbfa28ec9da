import { useEffect, useState } from "react";
import { call, subscribe, type Session } from "./api";

type UserRewards = { user_id: string; payments: number; escrowed: number; released: number;
  clawed_back: number; next_release: string | null };
type RewardEntry = { payment_id: string; user_id: string; state: string; units: number;
  clawed_units: number; release_after: string };
type RewardsView = { decimals: number; users: UserRewards[]; entries: RewardEntry[] };

const STATE_CLASS: Record<string, string> = { escrowed: "review", releasing: "review",
  released: "captured", clawed_back: "declined", canceled: "voided", failed: "failed" };

/** Escrowed, released and clawed-back tokens of the top users, one stacked bar each. */
function Bars({ users, tokens }: { users: UserRewards[]; tokens: (u: number) => number }) {
  const top = users.slice(0, 12);
  const max = Math.max(1e-9, ...top.map((u) => tokens(u.escrowed + u.released + u.clawed_back)));
  const w = 560, row = 22, pad = 130, h = top.length * row + 10;
  const x = (v: number) => (tokens(v) / max) * (w - pad - 60);
  return (
    <figure className="chart" data-testid="reward-bars">
      <figcaption>tokens per user: released (green), in escrow (amber), clawed back (red)</figcaption>
      <svg width={w} height={h} role="img" aria-label="reward tokens per user">
        {top.map((u, i) => (
          <g key={u.user_id} transform={`translate(0, ${i * row + 4})`}>
            <text x={0} y={13} fontSize="11">{u.user_id.slice(0, 20)}</text>
            <rect x={pad} y={2} width={x(u.released)} height={14} fill="#2b8a3e" />
            <rect x={pad + x(u.released)} y={2} width={x(u.escrowed)} height={14} fill="#e8a317" />
            <rect x={pad + x(u.released + u.escrowed)} y={2} width={x(u.clawed_back)} height={14} fill="#c92a2a" />
            <text x={pad + x(u.released + u.escrowed + u.clawed_back) + 4} y={13} fontSize="10">
              {tokens(u.released + u.escrowed).toLocaleString()}</text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

export function Rewards({ session }: { session: Session }) {
  const [view, setView] = useState<RewardsView | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () => call<RewardsView>(session, "/rewards")
      .then((v) => { setView(v); setError(""); }, (e) => setError(e.message));
    load();
    return subscribe(session, (e) => { if (e.type === "reward_minted" || e.type === "payment_processed") load(); },
                     () => undefined);
  }, [session]);
  if (!view) return <section>{error || "loading..."}</section>;
  const tokens = (units: number) => units / 10 ** view.decimals;
  const t = (units: number) => tokens(units).toLocaleString(undefined, { maximumFractionDigits: view.decimals });
  const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "-");
  return (
    <section>
      <div className="toolbar">
        <span>{view.users.length} {view.users.length === 1 ? "user" : "users"} with rewards (1 token = 10<sup>{view.decimals}</sup> units)</span>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <table data-testid="reward-users">
        <thead><tr><th>user</th><th>payments</th><th>released (balance)</th><th>in escrow</th>
          <th>clawed back</th><th>next release</th></tr></thead>
        <tbody>
          {view.users.map((u) => (
            <tr key={u.user_id} data-user={u.user_id}>
              <td>{u.user_id}</td><td className="num">{u.payments}</td>
              <td className="num">{t(u.released)}</td>
              <td className="num" data-testid={`escrow-${u.user_id}`}>{t(u.escrowed)}</td>
              <td className="num">{t(u.clawed_back)}</td><td>{when(u.next_release)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.users.length > 0 && <div className="charts"><Bars users={view.users} tokens={tokens} /></div>}
      <h3>Newest reward entries (mints, releases, claw-backs)</h3>
      <table data-testid="reward-entries">
        <thead><tr><th>payment</th><th>user</th><th>state</th><th>tokens</th><th>clawed back</th>
          <th>released after</th></tr></thead>
        <tbody>
          {view.entries.map((e) => (
            <tr key={e.payment_id} data-payment={e.payment_id}>
              <td><code>{e.payment_id}</code></td><td>{e.user_id}</td>
              <td><span className={`status ${STATE_CLASS[e.state] ?? ""}`}>{e.state}</span></td>
              <td className="num">{t(e.units)}</td><td className="num">{t(e.clawed_units)}</td>
              <td>{when(e.release_after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
