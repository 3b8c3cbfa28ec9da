// The payment API as the app uses it: the same endpoints and JWTs as a merchant's code.

export type Attempt = { gateway: string; outcome: string; error_class: string | null;
  gateway_ref: string | null };
export type Payment = {
  payment_id: string; merchant_id: string; status: string; amount_minor: number;
  currency: string; refunded_minor: number; gateway: string | null;
  risk_score: number | null; fraud_decision: string | null;
  fraud_model_version: string | null;
  fraud_thresholds: { review: number; decline: number } | null;
  attempts: Attempt[]; history: string[]; reason: string | null;
  reward: { status: string; amount: number | null; user_id: string } | null;
};
export type LiveEvent = { id: string; type: string; merchant_id: string;
  payment_id: string | null; data: Record<string, unknown> };

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export type Session = { token: string; merchant: string; scopes: string[] };

/** The claims of a JWT (no verification here: the API verifies every call). */
export function readToken(token: string): Session {
  const part = token.split(".")[1];
  if (!part) throw new Error("that is not a JWT (three dot-separated parts)");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  const claims = JSON.parse(json);
  const scopes = String(claims.scope ?? claims.scopes ?? "").split(/[ ,]+/).filter(Boolean);
  return { token, merchant: String(claims.merchant_id ?? claims.sub ?? "?"), scopes };
}

export async function call<T>(session: Session, path: string,
                              init: RequestInit & { idempotencyKey?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${session.token}` };
  if (init.body) headers["Content-Type"] = "application/json";
  if (init.idempotencyKey) headers["Idempotency-Key"] = init.idempotencyKey;
  const r = await fetch(path, { ...init, headers });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error ?? "error", body.message ?? r.statusText);
  return body as T;
}

export function money(minor: number, currency: string): string {
  const digits = ["JPY", "KRW"].includes(currency) ? 0 : 2;
  return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`;
}

/** The live event stream of this token's merchant (every merchant's for admin). */
export function subscribe(session: Session, onEvent: (e: LiveEvent) => void,
                          onState: (s: string) => void): () => void {
  let ws: WebSocket | null = null;
  let stopped = false;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(session.token)}`);
    ws.onopen = () => onState("live");
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type !== "subscribed") onEvent(e as LiveEvent);
    };
    ws.onclose = () => {
      onState("reconnecting");
      if (!stopped) setTimeout(open, 1000);
    };
  };
  open();
  return () => { stopped = true; ws?.close(); };
}
