import { useState } from "react";
import { readToken, type Session } from "./api";
import { Assistant } from "./Assistant";
import { Fraud } from "./Fraud";
import { Gateways } from "./Gateways";
import { Models } from "./Models";
import { Payments } from "./Payments";
import { Rewards } from "./Rewards";

const KEY = "smartpay.token";

type Page = "payments" | "fraud" | "gateways" | "rewards" | "models" | "assistant";
// [page, button label, operators only]
const PAGES: [Page, string, boolean][] = [
  ["payments", "Live payments", false], ["fraud", "Fraud", false],
  ["gateways", "Gateways", true], ["rewards", "Rewards", false],
  ["models", "Models", true], ["assistant", "Assistant", false]];

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
  const [page, setPage] = useState<Page>("payments");
  if (!session) return <SignIn onSession={(s) => { sessionStorage.setItem(KEY, s.token); setSession(s); }} />;
  const admin = session.scopes.includes("admin");
  return (
    <div className="shell">
      <header>
        <strong>SmartPay</strong>
        <nav>
          {PAGES.filter(([, , ops]) => admin || !ops).map(([p, label]) => (
            <button key={p} className={page === p ? "on" : ""} onClick={() => setPage(p)}>{label}</button>
          ))}
        </nav>
        <span className="who" data-testid="who">
          {admin ? "admin (all merchants)" : `merchant ${session.merchant}`}
        </span>
        <button onClick={() => { sessionStorage.removeItem(KEY); setSession(null); }}>Sign out</button>
      </header>
      <main>
        {page === "payments" && <Payments session={session} />}
        {page === "fraud" && <Fraud session={session} />}
        {page === "gateways" && <Gateways session={session} />}
        {page === "rewards" && <Rewards session={session} />}
        {page === "models" && <Models session={session} />}
        {page === "assistant" && <Assistant session={session} />}
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
