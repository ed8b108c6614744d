// The standards' AI analyzer and a generate box whose answer appears as it
// is written. Both are licence features; the page says so when the licence
// or the master switch leaves them out.
import { useRef, useState, type FormEvent } from 'react';
import {
  errorFrom,
  errorText,
  get,
  request,
  send,
  type AIAnalysis,
  type AIAnalyzeAnswer,
  type AIFeatures,
  type AIGateway,
  type AIGenerateAnswer,
  type AIUsage,
  type LicenseView,
} from '../api';
import { human } from '../format';
import { readSSE } from '../sse';
import { isAdmin, useSession } from '../session';
import { Link } from '../router';
import { Detail, ErrorMessage, Loading, Notice, PageTitle, useLoad } from '../ui';

const tasks = [
  { id: 'sentiment', label: 'Sentiment', help: 'Is the text positive, negative, neutral or mixed?' },
  { id: 'classification', label: 'Classification', help: 'Which topic does the text belong to?' },
  { id: 'summary', label: 'Summary', help: 'The text in at most three sentences.' },
  { id: 'entities', label: 'Entities', help: 'People, organisations, places, dates and products named in the text.' },
  { id: 'language', label: 'Language', help: 'Which language is the text written in?' },
] as const;

type Usage = AIUsage;
type Analysis = AIAnalysis;

export function AIPage() {
  const data = useLoad(async (signal) => {
    const [features, lic, gateway] = await Promise.all([
      get<AIFeatures>('/api/v1/ai/features', signal),
      get<LicenseView>('/api/v1/license', signal).catch(() => undefined),
      // Asked up front so the page says so before anyone types.
      get<AIGateway>('/api/v1/ai/gateway', signal).catch(() => undefined),
    ]);
    return { features, tier: lic?.license.tier ?? '', gateway };
  });
  const d = data.data;
  return (
    <section className="page">
      <PageTitle lead="Analyse text and generate answers through the WaddleAI gateway.">AI</PageTitle>
      {data.loading && !d && <Loading what="the AI features" lines={4} />}
      <ErrorMessage>{data.error}</ErrorMessage>
      {d && !d.features.ai_features_enabled && <SwitchedOff />}
      {d && d.features.ai_features_enabled && d.gateway && !(d.gateway.configured && d.gateway.reachable) && (
        <GatewayDown g={d.gateway} onRetry={data.reload} retrying={data.loading} />
      )}
      {d && d.features.ai_features_enabled && (
        <div className="stack">
          {d.features.features.ai_analysis ? <Analyzer /> : <NotInLicence title="Text analysis" feature="ai_analysis" tier={d.tier} />}
          {d.features.features.ai_generation ? <Generator /> : <NotInLicence title="Generation" feature="ai_generation" tier={d.tier} />}
        </div>
      )}
    </section>
  );
}

function GatewayDown({ g, onRetry, retrying }: { g: AIGateway; onRetry(): void; retrying: boolean }) {
  const { me } = useSession();
  return (
    <div className="panel gateway-down" data-testid="gateway-down" data-configured={String(g.configured)}>
      <Notice kind="warn">{g.message}</Notice>
      <Detail>{g.detail}</Detail>
      <p>
        {isAdmin(me?.role) ? (
          <>
            Check the <Link to="/settings?q=waddleai">WaddleAI settings</Link> or test the connection on the{' '}
            <Link to="/integrations">integrations page</Link>.{' '}
          </>
        ) : (
          'An administrator can set up the gateway. '
        )}
        <button type="button" className="btn btn-small" onClick={onRetry} disabled={retrying}>
          {retrying ? 'Checking…' : 'Check again'}
        </button>
      </p>
    </div>
  );
}

function SwitchedOff() {
  const { me } = useSession();
  return (
    <div className="panel locked" data-testid="ai-off">
      <h2>AI features are switched off</h2>
      <p>
        The setting <code>ai_features_enabled</code> is off on this server, so analysis and generation are not offered.
      </p>
      {isAdmin(me?.role) ? (
        <p>
          You can switch them on in <Link to="/settings">Settings</Link>.
        </p>
      ) : (
        <p>An administrator can switch them on.</p>
      )}
    </div>
  );
}

function NotInLicence({ title, feature, tier }: { title: string; feature: string; tier: string }) {
  return (
    <section className="panel locked" data-testid={`gated-${feature}`} aria-labelledby={`gated-${feature}`}>
      <h2 id={`gated-${feature}`}>{title}</h2>
      <p>
        <strong>
          {human(feature)} is not included in {tier ? `the ${human(tier).toLowerCase()} licence` : 'the current licence'}.
        </strong>{' '}
        It comes with the professional and enterprise tiers.
      </p>
      <p>
        See what the licence includes on the <Link to="/license">licence page</Link>.
      </p>
    </section>
  );
}

function Analyzer() {
  const [text, setText] = useState('');
  const [task, setTask] = useState<string>('sentiment');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [result, setResult] = useState<Analysis | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError('');
    try {
      const r = await request<AIAnalyzeAnswer>('/api/v1/ai/analyze', { method: 'POST', body: { text, task } });
      setResult(r.data.response);
    } catch (err) {
      setResult(null);
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="analyze-title">
      <h2 id="analyze-title">Text analysis</h2>
      <form onSubmit={submit} className="form" noValidate>
        <label htmlFor="analyze-text">Text to analyse</label>
        <textarea id="analyze-text" rows={5} value={text} onChange={(e) => setText(e.target.value)} maxLength={32000} />
        <fieldset className="tasks">
          <legend>Task</legend>
          {tasks.map((t) => (
            <label key={t.id} className="choice">
              <input type="radio" name="task" value={t.id} checked={task === t.id} onChange={() => setTask(t.id)} />
              <span>
                <strong>{t.label}</strong>
                <span className="sub">{t.help}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="editor-actions">
          <button className="btn btn-primary" type="submit" disabled={busy || !text.trim()}>
            {busy ? 'Analysing…' : 'Analyse'}
          </button>
        </div>
      </form>
      <div className="msg-slot">
        <ErrorMessage>{error}</ErrorMessage>
      </div>
      <div className="result" aria-live="polite" aria-busy={busy}>
        {result && <AnalysisView a={result} />}
      </div>
    </section>
  );
}

function pct(n: number): string {
  return `${Math.round(Math.max(0, Math.min(1, n)) * 100)}%`;
}

function AnalysisView({ a }: { a: Analysis }) {
  let body;
  if (a.sentiment) {
    body = (
      <p className="answer">
        <span className={`pill pill-${a.sentiment.label}`}>{human(a.sentiment.label)}</span>{' '}
        <span className="sub">confidence {pct(a.sentiment.score)}</span>
      </p>
    );
  } else if (a.classification) {
    body = (
      <p className="answer">
        <span className="pill">{a.classification.label}</span> <span className="sub">confidence {pct(a.classification.score)}</span>
      </p>
    );
  } else if (a.summary !== undefined && a.task === 'summary') {
    body = <p className="answer summary-text">{a.summary}</p>;
  } else if (a.language) {
    body = (
      <p className="answer">
        <span className="pill">{languageName(a.language.code)}</span> <code>{a.language.code}</code>{' '}
        <span className="sub">confidence {pct(a.language.confidence)}</span>
      </p>
    );
  } else if (a.task === 'entities') {
    const list = a.entities ?? [];
    body =
      list.length === 0 ? (
        <p className="answer muted">No named entities found.</p>
      ) : (
        <ul className="entities">
          {list.map((e, i) => (
            <li key={i}>
              <span>{e.text}</span> <span className="badge">{e.type.toLowerCase()}</span>
            </li>
          ))}
        </ul>
      );
  } else {
    body = <p className="answer muted">The answer had no result for this task.</p>;
  }
  return (
    <div className="analysis" data-task={a.task}>
      <h3>Result: {human(a.task)}</h3>
      {body}
      <UsageLine model={a.model} usage={a.usage} />
    </div>
  );
}

function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(undefined, { type: 'language' }).of(code) ?? code;
  } catch {
    return code;
  }
}

function UsageLine({ model, usage, extra }: { model?: string; usage?: Usage; extra?: string }) {
  const parts: string[] = [];
  if (extra) parts.push(extra);
  if (model) parts.push(`model ${model}`);
  if (usage?.total_tokens) parts.push(`${usage.total_tokens} tokens`);
  if (parts.length === 0) return null;
  return <p className="sub usage">{parts.join(' · ')}</p>;
}

type GenState = 'idle' | 'streaming' | 'done' | 'stopped' | 'failed';

function Generator() {
  const [prompt, setPrompt] = useState('');
  const [context, setContext] = useState('');
  const [answer, setAnswer] = useState('');
  const [state, setState] = useState<GenState>('idle');
  const [error, setError] = useState('');
  const [meta, setMeta] = useState<{ model?: string; usage?: Usage; finish?: string } | null>(null);
  const abort = useRef<AbortController | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!prompt.trim() || state === 'streaming') return;
    const ctl = new AbortController();
    abort.current = ctl;
    setAnswer('');
    setError('');
    setMeta(null);
    setState('streaming');
    let ended = false;
    try {
      const res = await send('/api/v1/ai/generate?stream=true', {
        method: 'POST',
        body: { prompt, context: context.trim() ? context : null },
        headers: { Accept: 'text/event-stream' },
        signal: ctl.signal,
      });
      if (!res.ok) throw await errorFrom(res);
      if (!res.body || !(res.headers.get('Content-Type') ?? '').includes('text/event-stream')) {
        // A server that answers in one piece.
        const r = (await res.json()) as AIGenerateAnswer;
        setAnswer(r.response ?? '');
        setMeta({ model: r.model, usage: r.usage, finish: r.finish_reason });
        setState('done');
        return;
      }
      await readSSE(res.body, (ev) => {
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(ev.data) as Record<string, unknown>;
        } catch {
          return;
        }
        if (ev.event === 'delta' && typeof data.text === 'string') {
          const piece = data.text;
          setAnswer((a) => a + piece);
        } else if (ev.event === 'done') {
          ended = true;
          setMeta({ model: data.model as string, usage: data.usage as Usage, finish: data.finish_reason as string });
          setState('done');
        } else if (ev.event === 'error') {
          ended = true;
          setError(typeof data.error === 'string' ? data.error : 'The answer was interrupted. Try again.');
          setState('failed');
        }
      });
      if (!ended) {
        setError('The answer was cut off before it finished. Try again.');
        setState('failed');
      }
    } catch (err) {
      if (ctl.signal.aborted) {
        setState('stopped');
        return;
      }
      setError(errorText(err));
      setState('failed');
    } finally {
      abort.current = null;
    }
  };

  const streaming = state === 'streaming';
  const statusText =
    state === 'streaming'
      ? 'Writing…'
      : state === 'done'
        ? 'Finished.'
        : state === 'stopped'
          ? 'Stopped. The answer is incomplete.'
          : state === 'failed'
            ? ''
            : '';

  return (
    <section className="panel" aria-labelledby="generate-title">
      <h2 id="generate-title">Generation</h2>
      <form onSubmit={submit} className="form" noValidate>
        <label htmlFor="gen-prompt">Prompt</label>
        <textarea id="gen-prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} maxLength={32000} />
        <label htmlFor="gen-context">
          Context <span className="sub">(optional: background the answer should use)</span>
        </label>
        <textarea id="gen-context" rows={2} value={context} onChange={(e) => setContext(e.target.value)} maxLength={32000} />
        <div className="editor-actions">
          <button className="btn btn-primary" type="submit" disabled={streaming || !prompt.trim()}>
            Generate
          </button>
          {streaming && (
            <button className="btn" type="button" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          )}
        </div>
      </form>
      <div className="msg-slot">
        <ErrorMessage>{error}</ErrorMessage>
      </div>
      <div className="stream-box">
        <p className="stream-status" role="status" data-state={state}>
          {statusText}
        </p>
        <div className="stream" data-testid="generated" aria-busy={streaming} aria-label="Generated answer">
          {answer || <span className="muted">{streaming ? '' : 'The answer appears here as it is written.'}</span>}
          {streaming && <span className="caret" aria-hidden="true" />}
        </div>
        {meta && <UsageLine model={meta.model} usage={meta.usage} extra={meta.finish ? `finished: ${meta.finish}` : undefined} />}
      </div>
    </section>
  );
}
