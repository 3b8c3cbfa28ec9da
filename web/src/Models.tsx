import { useEffect, useState } from "react";
import { call, type Session } from "./api";

type Drift = { psi: number; status: string; scores: number };
type Version = { version: string; aliases: string[]; run_id: string | null; created_at: string | null;
  metrics: Record<string, number>; gate: string; gate_reasons: string[]; drift: Drift | null;
  drift_note: string | null; mlflow_url: string };
type Model = { name: string; champion: Version | null; challenger: Version | null; mlflow_url: string };
type ModelsView = { mlflow_ui_url: string; models: Model[] };

const GATE_CLASS: Record<string, string> = { promoted: "captured", refused: "declined" };
const DRIFT_CLASS: Record<string, string> = { stable: "captured", moderate: "review", shift: "declined" };

function VersionCard({ model, role, v }: { model: string; role: string; v: Version | null }) {
  if (!v) return <div className="card"><h4>{role}</h4><p>none registered</p></div>;
  return (
    <div className="card" data-testid={`${model}-${role}`}>
      <h4>{role}: <a href={v.mlflow_url} target="_blank" rel="noreferrer">version {v.version}</a>
        {v.aliases.length > 1 && <small> ({v.aliases.join(", ")})</small>}</h4>
      <dl>
        <dt>registered</dt><dd>{v.created_at ? new Date(v.created_at).toLocaleString() : "-"}</dd>
        <dt>gate</dt><dd><span className={`status ${GATE_CLASS[v.gate] ?? ""}`}>{v.gate}</span>
          {v.gate_reasons.map((r) => <div key={r}><small>{r}</small></div>)}</dd>
        <dt>score drift</dt><dd>{v.drift
          ? <><span className={`status ${DRIFT_CLASS[v.drift.status] ?? ""}`}>{v.drift.status}</span> PSI {v.drift.psi.toFixed(3)} over {v.drift.scores} scores</>
          : <small>{v.drift_note ?? "-"}</small>}</dd>
      </dl>
      <table className="metrics">
        <tbody>
          {Object.entries(v.metrics).map(([k, m]) => (
            <tr key={k}><td>{k}</td><td className="num">{m.toFixed(4)}</td></tr>
          ))}
          {Object.keys(v.metrics).length === 0 && <tr><td>no metrics logged with this run</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export function Models({ session }: { session: Session }) {
  const [view, setView] = useState<ModelsView | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    call<ModelsView>(session, "/admin/models").then(setView, (e) => setError(e.message));
  }, [session]);
  if (!view) return <section>{error || "loading..."}</section>;
  return (
    <section>
      <div className="toolbar">
        <span>registered models; open <a href={view.mlflow_ui_url} target="_blank" rel="noreferrer">the MLflow UI</a> for runs and plots</span>
      </div>
      {view.models.map((m) => (
        <div key={m.name} className="model" data-model={m.name}>
          <h3><a href={m.mlflow_url} target="_blank" rel="noreferrer">{m.name}</a></h3>
          <div className="cards">
            <VersionCard model={m.name} role="champion" v={m.champion} />
            <VersionCard model={m.name} role="challenger" v={m.challenger} />
          </div>
        </div>
      ))}
    </section>
  );
}
