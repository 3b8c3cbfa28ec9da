import { useCallback, useEffect, useState } from "react";
import { ApiError, call, money, subscribe, type Payment, type Session } from "./api";

export function Reviews({ session }: { session: Session }) {
  const [queue, setQueue] = useState<Payment[]>([]);
  const [note, setNote] = useState("");
  const [msg, setMsg] = useState("");
  const load = useCallback(() => {
    call<Payment[]>(session, "/admin/reviews").then(setQueue, (e) => setMsg(e.message));
  }, [session]);

  useEffect(() => {
    load();
    return subscribe(session, (e) => { if (e.type === "payment_review" || e.type === "payment_processed") load(); },
                     () => undefined);
  }, [session, load]);

  const decide = async (p: Payment, verdict: "approve" | "reject") => {
    try {
      const out = await call<Payment>(session, `/payments/${p.payment_id}/review`, {
        method: "POST", body: JSON.stringify({ verdict, note }) });
      setMsg(`${p.payment_id}: ${out.status}`); setNote(""); load();
    } catch (e) {
      setMsg(e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e));
    }
  };

  return (
    <section>
      <div className="toolbar">
        <span>{queue.length} held for review (authorized, not captured)</span>
        <label>note <input aria-label="review note" value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} /></label>
      </div>
      {msg && <p role="status">{msg}</p>}
      <table data-testid="reviews">
        <thead><tr><th>payment</th><th>merchant</th><th>amount</th><th>risk</th><th>thresholds</th>
          <th>gateway</th><th></th></tr></thead>
        <tbody>
          {queue.map((p) => (
            <tr key={p.payment_id} data-payment={p.payment_id}>
              <td><code>{p.payment_id}</code></td><td>{p.merchant_id}</td>
              <td className="num">{money(p.amount_minor, p.currency)}</td>
              <td className="num">{p.risk_score?.toFixed(4)}</td>
              <td>{p.fraud_thresholds ? `${p.fraud_thresholds.review.toFixed(3)} / ${p.fraud_thresholds.decline.toFixed(3)}` : "-"}
                {p.fraud_model_version && ` (v${p.fraud_model_version})`}</td>
              <td>{p.gateway}</td>
              <td><button onClick={() => decide(p, "approve")}>Approve</button>
                <button onClick={() => decide(p, "reject")}>Reject</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
