import { useEffect, useMemo, useRef, useState } from "react";
import { ApiError, call, money, subscribe, type Payment, type Session } from "./api";

const STATUSES = ["all", "captured", "review", "declined", "failed", "pending", "refunded", "voided"];

export function Payments({ session }: { session: Session }) {
  const [rows, setRows] = useState<Payment[]>([]);
  const [live, setLive] = useState("connecting");
  const [status, setStatus] = useState("all");
  const [gateway, setGateway] = useState("all");
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState("");

  const upsert = (p: Payment) =>
    setRows((old) => [p, ...old.filter((o) => o.payment_id !== p.payment_id)].slice(0, 200));

  useEffect(() => {
    call<Payment[]>(session, "/payments?limit=50").then(setRows, (e) => setError(e.message));
    return subscribe(session, (e) => {
      if (!e.payment_id) return;
      call<Payment>(session, `/payments/${e.payment_id}`).then(upsert, () => undefined);
    }, setLive);
  }, [session]);

  const gateways = useMemo(() => ["all", ...new Set(rows.map((r) => r.gateway ?? "none"))], [rows]);
  const shown = rows.filter((r) => (status === "all" || r.status === status)
    && (gateway === "all" || (r.gateway ?? "none") === gateway));

  return (
    <section>
      <div className="toolbar">
        <span className={`live ${live}`} data-testid="live">{live}</span>
        <label>status <select aria-label="status filter" value={status} onChange={(e) => setStatus(e.target.value)}>
          {STATUSES.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>gateway <select aria-label="gateway filter" value={gateway} onChange={(e) => setGateway(e.target.value)}>
          {gateways.map((g) => <option key={g}>{g}</option>)}</select></label>
        <span>{shown.length} shown</span>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <table data-testid="payments">
        <thead><tr><th>payment</th><th>merchant</th><th>status</th><th>amount</th><th>gateway</th>
          <th>risk</th><th>reward</th></tr></thead>
        <tbody>
          {shown.map((p) => (
            <tr key={p.payment_id} data-payment={p.payment_id} onClick={() => setOpen(p.payment_id)}>
              <td><code>{p.payment_id}</code></td><td>{p.merchant_id}</td>
              <td><span className={`status ${p.status}`}>{p.status}</span></td>
              <td className="num">{money(p.amount_minor, p.currency)}</td><td>{p.gateway ?? "-"}</td>
              <td className="num">{p.risk_score?.toFixed(3) ?? "-"}</td>
              <td>{p.reward ? `${p.reward.amount ?? "?"} (${p.reward.status})` : "-"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && <Detail session={session} id={open} onClose={() => setOpen(null)} onChange={upsert} />}
    </section>
  );
}

function Detail({ session, id, onClose, onChange }: {
  session: Session; id: string; onClose: () => void; onChange: (p: Payment) => void;
}) {
  const [p, setP] = useState<Payment | null>(null);
  const [amount, setAmount] = useState("");
  const [msg, setMsg] = useState("");
  // one Idempotency-Key per refund the operator means: a retry of the same click
  // (a lost answer) is answered, never refunded twice
  const key = useRef(crypto.randomUUID());

  useEffect(() => { call<Payment>(session, `/payments/${id}`).then(setP, (e) => setMsg(e.message)); }, [id, session]);
  if (!p) return <aside className="detail">{msg || "loading..."}</aside>;
  const left = p.amount_minor - p.refunded_minor;

  const refund = async () => {
    const body = amount.trim() ? { amount_minor: Number(amount) } : {};
    try {
      const out = await call<Payment>(session, `/payments/${id}/refund`, {
        method: "POST", body: JSON.stringify(body), idempotencyKey: key.current });
      setP(out); onChange(out); key.current = crypto.randomUUID(); setAmount("");
      setMsg(`refunded; ${money(out.refunded_minor, out.currency)} refunded in all`);
    } catch (e) {
      setMsg(e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e));
    }
  };

  return (
    <aside className="detail" data-testid="detail">
      <button className="close" onClick={onClose} aria-label="close">x</button>
      <h2><code>{p.payment_id}</code></h2>
      <dl>
        <dt>status</dt><dd data-testid="detail-status">{p.status}</dd>
        <dt>amount</dt><dd>{money(p.amount_minor, p.currency)} (refunded {money(p.refunded_minor, p.currency)})</dd>
        <dt>risk</dt><dd>{p.risk_score?.toFixed(4)} {p.fraud_decision}
          {p.fraud_thresholds && ` (review at ${p.fraud_thresholds.review.toFixed(4)}, decline at ${p.fraud_thresholds.decline.toFixed(4)}, model ${p.fraud_model_version})`}</dd>
        <dt>reward</dt><dd>{p.reward ? `${p.reward.amount ?? "?"} base units, ${p.reward.status}` : "none"}</dd>
        {p.reason && <><dt>reason</dt><dd>{p.reason}</dd></>}
      </dl>
      <h3>Attempts</h3>
      <ol>{p.attempts.map((a, i) => <li key={i}>{a.gateway}: {a.outcome}{a.error_class ? ` (${a.error_class})` : ""}</li>)}</ol>
      <h3>History</h3>
      <p>{p.history.join(" -> ")}</p>
      {p.status === "captured" && left > 0 && (
        <div className="refund">
          <input aria-label="refund amount" placeholder={`all ${left}`} value={amount}
                 onChange={(e) => setAmount(e.target.value.replace(/[^0-9]/g, ""))} />
          <button onClick={refund}>Refund</button>
        </div>
      )}
      {msg && <p role="status">{msg}</p>}
    </aside>
  );
}
