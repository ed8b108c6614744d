import { useState } from 'react';
import { errorText, get, request, type LicenseCheck, type LicenseView } from '../api';
import { ago, daysUntil, human, localDate, localTime } from '../format';
import { Link } from '../router';
import { isAdmin, useSession } from '../session';
import { Detail, ErrorMessage, Loading, Meter, Notice, PageTitle, useLoad } from '../ui';

const sourceText: Record<string, { label: string; text: string }> = {
  live: { label: 'Live', text: 'Validated with the licence server by this server.' },
  cached: {
    label: 'Cached',
    text: 'The licence server could not be reached, so rookery is using the last answer it received.',
  },
  development: { label: 'Development', text: 'Every feature on, nothing enforced.' },
  none: { label: 'No licence', text: 'There is no valid licence: only what the community tier includes is available.' },
};

// How each outcome of "Check now" is shown.
const outcomeKind: Record<LicenseCheck['outcome'], 'ok' | 'info' | 'warn'> = {
  valid: 'ok',
  development: 'info',
  no_key: 'info',
  refused: 'warn',
  unreachable: 'warn',
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
  const [check, setCheck] = useState<LicenseCheck | null>(null);
  const [checkErr, setCheckErr] = useState('');

  const checkNow = async () => {
    setChecking(true);
    setCheck(null);
    setCheckErr('');
    try {
      const r = await request<LicenseCheck>('/api/v1/license/refresh', { method: 'POST' });
      lic.set(r.data.license);
      setCheck(r.data);
    } catch (err) {
      setCheckErr(errorText(err));
    } finally {
      setChecking(false);
    }
  };

  const v = lic.data;
  const l = v?.license;
  const development = l?.source === 'development' || l?.release_mode === false;
  const src = sourceText[development ? 'development' : (l?.source ?? 'none')] ?? { label: l?.source ?? '', text: '' };
  const days = daysUntil(l?.expires_at);
  const implemented = new Set(v?.implemented ?? Object.keys(v?.entitlements ?? {}));
  const features = v ? Object.entries(v.entitlements).sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b)) : [];
  const limits = l?.limits ? Object.entries(l.limits).filter(([k]) => k !== 'max_users' && k !== 'max_teams') : [];
  // In development mode the tier is only what a key's licence says, and
  // is not enforced; without a valid licence there is none to name.
  const tier = development ? (l?.valid ? `${human(l.tier || 'unknown')} (not enforced)` : 'None') : human(l?.tier || 'unknown');

  return (
    <section className="page">
      <PageTitle lead="What the PenguinTech licence allows this server to do, and how much of it is in use.">Licence</PageTitle>
      {lic.loading && !v && <Loading what="the licence" lines={5} />}
      <ErrorMessage>{lic.error}</ErrorMessage>
      {v && l && (
        <>
          {development && (
            <div className="panel dev-mode" data-testid="development">
              <h2>Development mode: every feature on, nothing enforced</h2>
              <p>
                <code>release_mode</code> is off, so rookery enforces no licence: every feature it has is available to everyone and
                no limit applies. A production server runs with <code>release_mode</code> on and a <code>license_key</code>.
              </p>
              {isAdmin(me?.role) ? (
                <p>
                  Set them in Settings: <Link to="/settings#release_mode">release_mode</Link> and{' '}
                  <Link to="/settings#license_key">license_key</Link>.
                </p>
              ) : (
                <p>An administrator sets release_mode and license_key in Settings.</p>
              )}
            </div>
          )}
          <div className="panel summary">
            <dl className="facts">
              <div>
                <dt>Tier</dt>
                <dd className={development ? 'tier tier-dev' : 'tier'} data-testid="tier">
                  {tier}
                </dd>
              </div>
              <div>
                <dt>Customer</dt>
                <dd>{l.customer || '—'}</dd>
              </div>
              <div>
                <dt>Expires</dt>
                <dd>
                  {l.expires_at ? localDate(l.expires_at) : l.valid ? 'No expiry date' : '—'}
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
                  <span className={`badge badge-src-${development ? 'development' : l.source}`} data-testid="source">
                    {src.label}
                  </span>
                  <span className="sub">{src.text}</span>
                </dd>
              </div>
              <div>
                <dt>Last checked</dt>
                <dd data-testid="last-checked">
                  <When iso={l.last_checked} never={l.key_masked ? 'Never' : 'Never (no licence key is set)'} />
                </dd>
              </div>
              <div>
                <dt>Last confirmed</dt>
                <dd data-testid="last-confirmed">
                  <When iso={l.last_validated} never="Never" />
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
            {l.last_error && !check && (
              <div className="msg-block">
                <Notice kind="warn">The last exchange with the licence server failed.</Notice>
                <Detail>{l.last_error}</Detail>
              </div>
            )}
            {isAdmin(me?.role) && (
              <div className="actions">
                <button type="button" className="btn" onClick={checkNow} disabled={checking}>
                  {checking ? 'Checking…' : 'Check now'}
                </button>
                <div className="msg-slot" aria-live="polite" data-testid="check-result">
                  {check && (
                    <div className="msg-block" data-outcome={check.outcome}>
                      <Notice kind={outcomeKind[check.outcome] ?? 'info'}>{check.message}</Notice>
                      <Detail>{check.detail}</Detail>
                    </div>
                  )}
                  <ErrorMessage>{checkErr}</ErrorMessage>
                </div>
              </div>
            )}
          </div>

          <div className="grid-2">
            <section className="panel" aria-labelledby="usage-title">
              <h2 id="usage-title">Limits and usage</h2>
              {development ? (
                <>
                  <p className="muted">No limit is enforced in development mode.</p>
                  <dl className="stats">
                    <div>
                      <dt>Users</dt>
                      <dd>{v.usage.users}</dd>
                    </div>
                    <div>
                      <dt>Teams</dt>
                      <dd>{v.usage.teams}</dd>
                    </div>
                  </dl>
                </>
              ) : (
                <>
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
                </>
              )}
            </section>

            <section className="panel" aria-labelledby="features-title">
              <h2 id="features-title">Features</h2>
              <ul className="features" aria-label="Features of the licence">
                {features.map(([f, granted]) => {
                  const has = implemented.has(f);
                  const state = granted && has ? 'on' : granted ? 'absent' : 'off';
                  const why =
                    state === 'on'
                      ? development
                        ? 'available (development mode)'
                        : 'included'
                      : state === 'absent'
                        ? 'not available in rookery'
                        : 'not included';
                  return (
                    <li key={f} className={state} data-feature={f}>
                      <span aria-hidden="true" className="mark">
                        {state === 'on' ? '✓' : '–'}
                      </span>
                      <span className="feature-name">{human(f)}</span>
                      <span className="sr-only">: {why}</span>
                      {state !== 'on' && (
                        <span className="sub" aria-hidden="true">
                          {why}
                        </span>
                      )}
                    </li>
                  );
                })}
              </ul>
              {features.some(([f, granted]) => granted && !implemented.has(f)) && (
                <p className="muted">
                  Features marked “not available in rookery” are in the licence catalogue, but rookery has nothing behind them yet.
                </p>
              )}
            </section>
          </div>
        </>
      )}
    </section>
  );
}

function When({ iso, never }: { iso?: string | null; never: string }) {
  if (!iso) return <>{never}</>;
  return (
    <>
      <time dateTime={iso}>{localTime(iso)}</time>
      <span className="sub">{ago(iso)}</span>
    </>
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
