import { useState } from 'react';
import { errorText, get, request, sentence, type LicenseView } from '../api';
import { ago, daysUntil, human, localDate, localTime } from '../format';
import { isAdmin, useSession } from '../session';
import { ErrorMessage, Loading, Meter, Notice, PageTitle, useLoad } from '../ui';

const sourceText: Record<string, { label: string; text: string }> = {
  live: { label: 'Live', text: 'Validated with the licence server by this server.' },
  cached: {
    label: 'Cached',
    text: 'The licence server could not be reached, so rookery is using the last answer it received.',
  },
  development: {
    label: 'Development',
    text: 'Development mode (release_mode is off): every feature is available and no limit is enforced.',
  },
  none: { label: 'No licence', text: 'There is no valid licence: only what the community tier includes is available.' },
};

// Features in the order of the tiers that include them.
const featureOrder = [
  'basic_auth',
  'sso_integration',
  'multiple_teams',
  'api_keys',
  'audit_logs',
  'ai_analysis',
  'ai_generation',
  'custom_saml',
  'advanced_analytics',
  'priority_support',
  'ai_training',
  'ai_custom_models',
];

export function LicensePage() {
  const { me } = useSession();
  const lic = useLoad((signal) => get<LicenseView>('/api/v1/license', signal));
  const [checking, setChecking] = useState(false);
  const [checkMsg, setCheckMsg] = useState<{ kind: 'ok' | 'warn'; text: string } | null>(null);
  const [checkErr, setCheckErr] = useState('');

  const checkNow = async () => {
    setChecking(true);
    setCheckMsg(null);
    setCheckErr('');
    try {
      const r = await request<LicenseView>('/api/v1/license/refresh', { method: 'POST' });
      lic.set(r.data);
      setCheckMsg(
        r.data.refreshed
          ? { kind: 'ok', text: 'The licence server confirmed the licence just now.' }
          : { kind: 'warn', text: sentence(`The check failed: ${r.data.refresh_error ?? 'no reason given'}`) },
      );
    } catch (err) {
      setCheckErr(errorText(err));
    } finally {
      setChecking(false);
    }
  };

  const v = lic.data;
  const l = v?.license;
  const src = sourceText[l?.source ?? 'none'] ?? { label: l?.source ?? '', text: '' };
  const days = daysUntil(l?.expires_at);
  const features = v ? Object.entries(v.entitlements).sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b)) : [];
  const limits = l?.limits ? Object.entries(l.limits).filter(([k]) => k !== 'max_users' && k !== 'max_teams') : [];

  return (
    <section className="page">
      <PageTitle lead="What the PenguinTech licence allows this server to do, and how much of it is in use.">Licence</PageTitle>
      {lic.loading && !v && <Loading what="the licence" lines={5} />}
      <ErrorMessage>{lic.error}</ErrorMessage>
      {v && l && (
        <>
          <div className="panel summary">
            <dl className="facts">
              <div>
                <dt>Tier</dt>
                <dd className="tier" data-testid="tier">
                  {human(l.tier || 'unknown')}
                </dd>
              </div>
              <div>
                <dt>Customer</dt>
                <dd>{l.customer || '—'}</dd>
              </div>
              <div>
                <dt>Expires</dt>
                <dd>
                  {l.expires_at ? localDate(l.expires_at) : 'No expiry date'}
                  {days !== null && (
                    <span className={`sub ${days < 0 ? 'bad' : days < 30 ? 'warn' : ''}`}>
                      {days < 0 ? 'expired' : days === 0 ? 'today' : `in ${days} days`}
                    </span>
                  )}
                </dd>
              </div>
              <div>
                <dt>State</dt>
                <dd>
                  <span className={`badge badge-src-${l.source}`} data-testid="source">
                    {src.label}
                  </span>
                  <span className="sub">{src.text}</span>
                </dd>
              </div>
              <div>
                <dt>Last checked</dt>
                <dd>
                  {l.last_validated ? (
                    <>
                      <time dateTime={l.last_validated}>{localTime(l.last_validated)}</time>
                      <span className="sub">{ago(l.last_validated)}</span>
                    </>
                  ) : (
                    'Never'
                  )}
                </dd>
              </div>
              {l.key_masked && (
                <div className="wide">
                  <dt>Key</dt>
                  <dd>
                    <code>{l.key_masked}</code>
                  </dd>
                </div>
              )}
            </dl>
            {l.last_error && <Notice kind="warn">{sentence(`The last check failed: ${l.last_error}`)}</Notice>}
            {isAdmin(me?.role) && (
              <div className="actions">
                <button type="button" className="btn" onClick={checkNow} disabled={checking}>
                  {checking ? 'Checking…' : 'Check now'}
                </button>
                <div className="msg-slot" aria-live="polite">
                  {checkMsg && <Notice kind={checkMsg.kind}>{checkMsg.text}</Notice>}
                  <ErrorMessage>{checkErr}</ErrorMessage>
                </div>
              </div>
            )}
          </div>

          <div className="grid-2">
            <section className="panel" aria-labelledby="usage-title">
              <h2 id="usage-title">Limits and usage</h2>
              <Meter label="Users" used={v.usage.users} max={v.usage.max_users} />
              <Meter label="Teams" used={v.usage.teams} max={teamLimit(v)} />
              {limits.length > 0 && (
                <dl className="limits">
                  {limits.map(([k, n]) => (
                    <div key={k}>
                      <dt>{human(k)}</dt>
                      <dd>{n < 0 ? 'Unlimited' : n}</dd>
                    </div>
                  ))}
                </dl>
              )}
            </section>

            <section className="panel" aria-labelledby="features-title">
              <h2 id="features-title">Features</h2>
              <ul className="features" aria-label="Features of the licence">
                {features.map(([f, on]) => (
                  <li key={f} className={on ? 'on' : 'off'} data-feature={f}>
                    <span aria-hidden="true" className="mark">
                      {on ? '✓' : '–'}
                    </span>
                    <span className="feature-name">{human(f)}</span>
                    <span className="sr-only">{on ? ': included' : ': not included'}</span>
                    {!on && <span className="sub">not included</span>}
                  </li>
                ))}
              </ul>
            </section>
          </div>
        </>
      )}
    </section>
  );
}

function order(f: string): number {
  const i = featureOrder.indexOf(f);
  return i < 0 ? featureOrder.length : i;
}

function teamLimit(v: LicenseView): number {
  const max = v.license.limits?.max_teams;
  if (typeof max === 'number') return max;
  return v.usage.multiple_teams === false ? 1 : -1;
}
