import { useRef, useState } from "react";
import { ApiError, call, type Session } from "./api";

// POST /chat's answer; fields the API may add later are kept but not needed here.
type ChatAnswer = { answer: string; sources?: string[]; cached?: boolean; [extra: string]: unknown };
type Turn = { question: string; answer?: ChatAnswer; error?: string };

/** "[1] Refunds (kb-refunds)" -> number, title and KB id, for a citation chip. */
function parseSource(s: string): { n: string; title: string; id: string } {
  const m = /^\[(\d+)\]\s*(.*?)\s*(?:\(([^()]*)\))?$/.exec(s);
  return m ? { n: m[1], title: m[2], id: m[3] ?? "" } : { n: "", title: s, id: "" };
}

export function Assistant({ session }: { session: Session }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  // one conversation per page load: the assistant keeps its context per session id
  const sessionId = useRef(`web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);

  const ask = async () => {
    const question = message.trim();
    if (!question || busy) return;
    setBusy(true); setMessage("");
    setTurns((t) => [...t, { question }]);
    let done: Turn;
    try {
      const answer = await call<ChatAnswer>(session, "/chat", { method: "POST",
        body: JSON.stringify({ message: question, session_id: sessionId.current }) });
      done = { question, answer };
    } catch (e) {
      done = { question, error: e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e) };
    }
    setTurns((t) => [...t.slice(0, -1), done]);
    setBusy(false);
  };

  return (
    <section className="assistant">
      <p>Ask about payments, refunds, rewards or errors; answers cite the knowledge base
        pages (and your own payments) they come from.</p>
      <div className="turns" data-testid="chat">
        {turns.map((t, i) => (
          <div key={i} className="turn" data-testid="turn">
            <p className="question"><strong>You:</strong> {t.question}</p>
            {!t.answer && !t.error && <p className="pending">thinking...</p>}
            {t.error && <p className="error" role="alert">{t.error}</p>}
            {t.answer && (
              <div className="answer" data-testid="answer">
                <p style={{ whiteSpace: "pre-wrap" }}>{t.answer.answer}</p>
                {(t.answer.sources ?? []).length > 0 && (
                  <ol className="sources" data-testid="sources">
                    {(t.answer.sources ?? []).map((s) => {
                      const c = parseSource(s);
                      return <li key={s} data-source={c.id}><span className="cite">[{c.n}]</span> {c.title} {c.id && <code>{c.id}</code>}</li>;
                    })}
                  </ol>
                )}
                {t.answer.cached && <small>(from the answer cache)</small>}
              </div>
            )}
          </div>
        ))}
      </div>
      <div className="ask">
        <textarea aria-label="question" rows={2} value={message} maxLength={2000}
                  onChange={(e) => setMessage(e.target.value)}
                  onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); } }} />
        <button onClick={ask} disabled={busy || !message.trim()}>Ask</button>
      </div>
    </section>
  );
}
