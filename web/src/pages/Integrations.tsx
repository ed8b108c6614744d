// The outside services rookery talks to. Every field is optional: the page
// shows what the server reports and says so when something is missing.
// Failures read as sentences; the error chain is one click behind them.
import { useState, type ReactNode } from 'react';
import {
  errorText,
  get,
  request,
  type EmailReport,
  type IntegrationTest,
  type Integrations,
  type KillKrillReport,
  type KillKrillSpool,
  type ServiceCheck,
  type SignalHealth,
} from '../api';
import { ago, count, human, localTime } from '../format';
import { Link } from '../router';
import { Detail, ErrorMessage, Loading, Notice, PageTitle, useLoad } from '../ui';

// The answer's parts, by the names this page uses.
type KillKrill = KillKrillReport;
type Spool = KillKrillSpool;
type OpenTelemetry = Integrations['opentelemetry'];
type Reach = ServiceCheck;
type Email = EmailReport;

export function IntegrationsPage() {
  const data = useLoad((signal) => get<Integrations>('/api/v1/integrations', signal));
  const d = data.data;
  return (
    <section className="page">
      <PageTitle lead="The outside services this server works with, and how they are doing.">Integrations</PageTitle>
      {data.loading && !d && <Loading what="integrations" lines={6} />}
      {data.error &&
        (data.status === 404 ? (
          <Notice kind="warn">This server does not report its integrations yet; it needs a newer rookery.</Notice>
        ) : (
          <ErrorMessage>{data.error}</ErrorMessage>
        ))}
      {d && (
        <>
          <div className="actions">
            <button type="button" className="btn btn-small" onClick={data.reload} disabled={data.loading}>
              {data.loading ? 'Refreshing…' : 'Refresh'}
            </button>
          </div>
          <div className="grid-2">
            <KillKrillCard k={d.killkrill} />
            <div className="stack">
              <ReachCard title="WaddleAI" what="AI gateway" r={d.waddleai} test="waddleai" settings="waddleai" />
              <ReachCard title="Licence server" what="PenguinTech licence server" r={d.license_server} test="license" settings="license" />
              <OpenTelemetryCard o={d.opentelemetry} />
            </div>
          </div>
          {d.email && <EmailCard e={d.email} />}
          <MarchProxyCard m={d.marchproxy} />
        </>
      )}
    </section>
  );
}

function Status({ ok, okText, badText }: { ok: boolean | undefined; okText: string; badText: string }) {
  if (ok === undefined) return <span className="status status-unknown">Unknown</span>;
  return <span className={`status ${ok ? 'status-ok' : 'status-bad'}`}>{ok ? okText : badText}</span>;
}

function KillKrillCard({ k }: { k?: KillKrill }) {
  return (
    <section className="panel" aria-labelledby="kk-title">
      <h2 id="kk-title">KillKrill</h2>
      <p className="muted">Structured logs and metrics shipping.</p>
      <SettingsLink q="killkrill" what="KillKrill" />
      {!k ? (
        <p className="muted">Not reported.</p>
      ) : !k.enabled ? (
        <p>
          <span className="status status-unknown">Off</span> Shipping is switched off (<code>killkrill_enabled</code>). Logs stay
          local.
        </p>
      ) : (
        <>
          <p>
            <Status ok={k.healthy} okText="Healthy" badText="Unhealthy" /> {k.mode && <span className="badge">{k.mode} mode</span>}
          </p>
          {k.health_error && (
            <Problem detail={k.health_error}>The KillKrill receiver did not pass its health check, so entries may not arrive.</Problem>
          )}
          <dl className="facts facts-compact">
            {k.log_url && (
              <div>
                <dt>Logs to</dt>
                <dd>
                  <code>{k.log_url}</code>
                </dd>
              </div>
            )}
            {k.metrics_url && (
              <div>
                <dt>Metrics to</dt>
                <dd>
                  <code>{k.metrics_url}</code>
                </dd>
              </div>
            )}
          </dl>
        </>
      )}
      {k?.enabled && k.stats && <ShippingStats s={k.stats} />}
      {k?.enabled && <TestConnection name="killkrill" title="KillKrill" />}
    </section>
  );
}

function ShippingStats({ s }: { s: NonNullable<KillKrill['stats']> }) {
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  const droppedBy = Object.entries(s.dropped).filter(([, n]) => n > 0);
  const lastSuccess = s.last_success_at;
  return (
    <>
      <dl className="stats">
        {s.sent !== undefined && (
          <div>
            <dt>Sent</dt>
            <dd>{count(s.sent)}</dd>
          </div>
        )}
        {s.queued !== undefined && (
          <div>
            <dt>Queued</dt>
            <dd>{count(s.queued)}</dd>
          </div>
        )}
        {s.failed !== undefined && (
          <div>
            <dt>Failed</dt>
            <dd>{count(s.failed)}</dd>
          </div>
        )}
        {dropped !== undefined && (
          <div>
            <dt>Dropped</dt>
            <dd>{count(dropped)}</dd>
          </div>
        )}
        {s.fallback !== undefined && (
          <div>
            <dt>Kept local</dt>
            <dd>{count(s.fallback)}</dd>
          </div>
        )}
      </dl>
      {s.circuit_open && (
        <Notice kind="warn">Shipping is paused after repeated failures; entries go to the local log until KillKrill answers again.</Notice>
      )}
      {droppedBy.length > 0 && (
        <p className="muted">Dropped by level: {droppedBy.map(([lvl, n]) => `${lvl} ${count(n)}`).join(', ')}.</p>
      )}
      {lastSuccess !== undefined && (
        <p className="muted">Last delivery: {lastSuccess ? `${localTime(lastSuccess)} (${ago(lastSuccess)})` : 'none yet'}.</p>
      )}
      {s.last_error && (
        <Problem detail={s.last_error}>
          The last delivery to KillKrill failed{s.last_error_at ? ` (${localTime(s.last_error_at)})` : ''}.
        </Problem>
      )}
      {s.spool?.enabled && <SpoolFacts sp={s.spool} />}
      {s.notes && s.notes.length > 0 && (
        <ul className="notes">
          {s.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </>
  );
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(bytes < 10 << 20 ? 1 : 0)} MiB`;
}

function SpoolFacts({ sp }: { sp: Spool }) {
  const entries = sp.entries ?? 0;
  const dropped = sp.dropped ? Object.entries(sp.dropped).filter(([, n]) => n > 0) : [];
  return (
    <>
      <h3>Waiting on disk</h3>
      {entries === 0 ? (
        <p className="muted">The spool is empty: nothing is waiting for KillKrill.</p>
      ) : (
        <dl className="stats">
          <div>
            <dt>Spooled</dt>
            <dd>{count(entries)}</dd>
          </div>
          {sp.bytes !== undefined && (
            <div>
              <dt>Size</dt>
              <dd>
                {mib(sp.bytes)}
                {sp.max_bytes ? ` of ${mib(sp.max_bytes)}` : ''}
              </dd>
            </div>
          )}
          {sp.oldest && (
            <div>
              <dt>Oldest</dt>
              <dd title={localTime(sp.oldest)}>{ago(sp.oldest)}</dd>
            </div>
          )}
        </dl>
      )}
      {entries > 0 && (
        <p className="muted">These entries are sent again, oldest first, as soon as KillKrill answers; a restart keeps them.</p>
      )}
      {dropped.length > 0 && (
        <Notice kind="warn">
          The spool was full and dropped {dropped.map(([lvl, n]) => `${count(n)} ${lvl}`).join(', ')} (errors go last); raise{' '}
          <code>killkrill_spool_max_mb</code> if outages last longer.
        </Notice>
      )}
      {sp.last_error && (
        <Problem detail={sp.last_error}>The spool could not be written, so entries went to the local log instead.</Problem>
      )}
    </>
  );
}

function OpenTelemetryCard({ o }: { o?: OpenTelemetry }) {
  const signals: [string, SignalHealth | undefined][] = [
    ['Traces', o?.traces],
    ['Metrics', o?.metrics],
    ['Logs', o?.logs],
  ];
  return (
    <section className="panel" aria-labelledby="otel-title">
      <h2 id="otel-title">OpenTelemetry</h2>
      <p className="muted">Traces, metrics and logs over OTLP/HTTP to a collector.</p>
      <SettingsLink q="otel" what="OpenTelemetry" />
      {!o ? (
        <p className="muted">Not reported.</p>
      ) : !o.enabled ? (
        <p>
          <span className="status status-unknown">Off</span> Set <code>otel_exporter_otlp_endpoint</code> (or{' '}
          <code>OTEL_EXPORTER_OTLP_ENDPOINT</code>) to export.
        </p>
      ) : (
        <>
          <p>
            <Status ok={o.healthy} okText="Exporting" badText="Failing" /> {o.endpoint && <code className="url">{o.endpoint}</code>}
          </p>
          <dl className="facts facts-compact">
            {signals.map(([name, h]) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd>
                  {!h || (!h.exports && !h.failures)
                    ? 'nothing sent yet'
                    : `${count(h.exports ?? 0)} exports${h.failures ? `, ${count(h.failures)} failed` : ''}${
                        h.last_success_at ? `, last ${ago(h.last_success_at)}` : ''
                      }`}
                </dd>
              </div>
            ))}
          </dl>
          {signals
            .filter(([, h]) => h && h.healthy === false && h.last_error)
            .map(([name, h]) => (
              <Problem key={name} detail={h?.last_error}>
                {name}: the last export to the collector failed.
              </Problem>
            ))}
        </>
      )}
    </section>
  );
}

function ReachCard({ title, what, r, test, settings }: { title: string; what: string; r?: Reach; test: string; settings: string }) {
  const id = `reach-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <section className="panel" aria-labelledby={id} data-integration={test}>
      <h2 id={id}>{title}</h2>
      <p className="muted">{what}</p>
      <SettingsLink q={settings} what={title} />
      {!r ? (
        <p className="muted">Not reported.</p>
      ) : (
        <>
          <p>
            <Status ok={r.reachable} okText="Reachable" badText="Unreachable" /> {r.url && <code className="url">{r.url}</code>}
          </p>
          {r.error && (
            <Problem detail={r.error}>
              {title} could not be reached{r.url ? ' at its configured address' : ''}. Test the connection for the reason.
            </Problem>
          )}
        </>
      )}
      <TestConnection name={test} title={title} />
    </section>
  );
}

function MarchProxyCard({ m }: { m?: Integrations['marchproxy'] }) {
  const services = m?.services ?? [];
  return (
    <section className="panel" aria-labelledby="mp-title">
      <h2 id="mp-title">MarchProxy</h2>
      <p className="muted">
        The services rookery would import into the gateway{m?.cluster_id !== undefined ? ` (cluster ${m.cluster_id})` : ''}
        {m?.api ? (
          <>
            {' '}
            at <code>{m.api}</code>
          </>
        ) : null}
        . Import them with <code>rookery marchproxy import</code>. The application&apos;s other services come
        from the <code>marchproxy_extras</code> setting.
      </p>
      <SettingsLink q="marchproxy" what="MarchProxy" />
      {!m ? (
        <p className="muted">Not reported.</p>
      ) : m.error ? (
        <Problem detail={m.error}>
          The MarchProxy configuration cannot be generated from the settings. Correct{' '}
          <Link to="/settings#marchproxy_extras">marchproxy_extras</Link> in Settings.
        </Problem>
      ) : services.length === 0 ? (
        <p className="muted">No services would be generated.</p>
      ) : (
        <div className="table-scroll" role="region" aria-label="Services for MarchProxy" tabIndex={0}>
          <table className="plain stack-on-phone">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Address</th>
                <th scope="col">Port</th>
                <th scope="col">Protocol</th>
              </tr>
            </thead>
            <tbody>
              {services.map((s, i) => (
                <tr key={s.name ?? i}>
                  <td data-label="Service">
                    <code>{s.name ?? '—'}</code>
                  </td>
                  <td data-label="Address">{s.ip_fqdn ?? '—'}</td>
                  <td data-label="Port">{s.port ?? '—'}</td>
                  <td data-label="Protocol">{s.protocol ? human(s.protocol).toUpperCase() : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {m?.mappings && m.mappings.length > 0 && (
        <p className="muted">
          {m.mappings.length} {m.mappings.length === 1 ? 'mapping' : 'mappings'} would route traffic to these services.
        </p>
      )}
      <TestConnection name="marchproxy" title="MarchProxy" />
    </section>
  );
}

/** Problem is a failure said as a sentence, with the raw error behind a disclosure. */
function Problem({ children, detail }: { children: ReactNode; detail?: string }) {
  return (
    <div className="msg-block">
      <Notice kind="warn">{children}</Notice>
      <Detail>{detail}</Detail>
    </div>
  );
}

/** SettingsLink leads to the settings page searched for one service's keys. */
function SettingsLink({ q, what }: { q: string; what: string }) {
  return (
    <p className="card-link">
      <Link to={`/settings?q=${encodeURIComponent(q)}`}>{what} settings</Link>
    </p>
  );
}

/** TestConnection asks the server to try the service now and says how it went. */
function TestConnection({ name, title }: { name: string; title: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<IntegrationTest | null>(null);
  const [error, setError] = useState('');
  const run = async () => {
    setBusy(true);
    setResult(null);
    setError('');
    try {
      const r = await request<IntegrationTest>(`/api/v1/integrations/${name}/test`, { method: 'POST' });
      setResult(r.data);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="test-connection" data-testid={`test-${name}`}>
      <button type="button" className="btn btn-small" onClick={run} disabled={busy} aria-label={`Test connection to ${title}`}>
        {busy ? 'Testing…' : 'Test connection'}
      </button>
      <div className="msg-slot" aria-live="polite">
        {result && (
          <div className="msg-block" data-ok={String(result.ok)}>
            <Notice kind={result.ok ? 'ok' : 'warn'}>{result.message}</Notice>
            <Detail>{result.detail}</Detail>
          </div>
        )}
        <ErrorMessage>{error}</ErrorMessage>
      </div>
    </div>
  );
}

function EmailCard({ e }: { e: Email }) {
  return (
    <section className="panel" aria-labelledby="email-title" data-integration="email">
      <h2 id="email-title">Email</h2>
      <p className="muted">Password reset links, invitations and licence warnings, sent through SMTP.</p>
      <SettingsLink q="smtp" what="Email" />
      {!e.configured ? (
        <p>
          <span className="status status-unknown">Off</span> No SMTP server is set (<code>smtp_host</code>), so no email is sent.
        </p>
      ) : (
        <dl className="stats">
          <div>
            <dt>Queued</dt>
            <dd>{count(e.queued ?? 0)}</dd>
          </div>
          <div>
            <dt>Sent</dt>
            <dd>{count(e.sent ?? 0)}</dd>
          </div>
          <div>
            <dt>Failed</dt>
            <dd>{count(e.failed ?? 0)}</dd>
          </div>
        </dl>
      )}
      {e.last_sent_at !== undefined && e.configured && (
        <p className="muted">Last sent: {e.last_sent_at ? `${localTime(e.last_sent_at)} (${ago(e.last_sent_at)})` : 'nothing yet'}.</p>
      )}
      {e.last_error && <Problem detail={e.last_error}>The last attempt to send an email failed.</Problem>}
      {e.configured && <TestConnection name="email" title="the SMTP server" />}
    </section>
  );
}
