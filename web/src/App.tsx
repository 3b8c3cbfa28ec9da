import { useState } from "react";
import { readToken, type Session } from "./api";
import { Gateways } from "./Gateways";
import { Payments } from "./Payments";
import { Reviews } from "./Reviews";

const KEY = "smartpay.token";

function restore(): Session | null {
  const saved = sessionStorage.getItem(KEY);
  try {
    return saved ? readToken(saved) : null;
  } catch {
    return null;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null>(restore);
  const [page, setPage] = useState<"payments" | "reviews" | "gateways">("payments");
  if (!session) return <SignIn onSession={(s) => { sessionStorage.setItem(KEY, s.token); setSession(s); }} />;
  const admin = session.scopes.includes("admin");
  return (
    <div className="shell">
      <header>
        <strong>SmartPay</strong>
        <nav>
          <button className={page === "payments" ? "on" : ""} onClick={() => setPage("payments")}>
            Live payments
          </button>
          {admin && (
            <button className={page === "reviews" ? "on" : ""} onClick={() => setPage("reviews")}>
              Fraud reviews
            </button>
          )}
          {admin && (
            <button className={page === "gateways" ? "on" : ""} onClick={() => setPage("gateways")}>
              Gateways
            </button>
          )}
        </nav>
        <span className="who" data-testid="who">
          {admin ? "admin (all merchants)" : `merchant ${session.merchant}`}
        </span>
        <button onClick={() => { sessionStorage.removeItem(KEY); setSession(null); }}>Sign out</button>
      </header>
      <main>
        {page === "payments" && <Payments session={session} />}
        {page === "reviews" && <Reviews session={session} />}
        {page === "gateways" && <Gateways session={session} />}
      </main>
    </div>
  );
}

function SignIn({ onSession }: { onSession: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const submit = async () => {
    try {
      const s = readToken(token.trim());
      const r = await fetch("/payments?limit=1", { headers: { Authorization: `Bearer ${s.token}` } });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        throw new Error(body.message ?? `the API answered ${r.status}`);
      }
      onSession(s);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="signin">
      <h1>SmartPay</h1>
      <p>Sign in with an API token (locally: <code>smartpay token --merchant m1</code>, or
        <code> --scope admin</code> for operators).</p>
      <textarea aria-label="token" value={token} onChange={(e) => setToken(e.target.value)} rows={4} />
      <button onClick={submit} disabled={!token.trim()}>Sign in</button>
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
