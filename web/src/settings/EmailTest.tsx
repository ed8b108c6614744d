// "Send test email" under the email settings: sends one message with the
// SMTP values on the page, typed-but-unsaved ones included, so a change
// can be tried before it is saved.
import { useState, type FormEvent } from 'react';
import { ApiError, errorText, request, type ConfigItem, type EmailTestAnswer, type EmailTestResult } from '../api';
import type { Draft } from './values';

/** smtpOverlay is the smtp_* values on screen: the stored or default ones,
 * replaced by what is typed in an open editor. A secret goes only when it
 * was typed; otherwise the server uses the stored one. */
export function smtpOverlay(items: ConfigItem[], draft: Draft | null): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const c of items) {
    if (!c.key.startsWith('smtp_')) continue;
    const typed = draft?.key === c.key ? draft : null;
    if (c.is_sensitive && !typed?.text) continue;
    const text = typed ? typed.text : c.value;
    if (c.type === 'boolean') out[c.key] = typed ? typed.bool : c.value === 'true';
    else if (c.type === 'integer' && /^-?\d+$/.test(text.trim())) out[c.key] = Number(text.trim());
    else out[c.key] = text;
  }
  return out;
}

export function EmailTest({ items, draft, defaultTo }: { items: ConfigItem[]; draft: Draft | null; defaultTo: string }) {
  const [to, setTo] = useState(defaultTo);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<EmailTestAnswer | null>(null);
  const typedKeys = draft && draft.key.startsWith('smtp_') ? [draft.key] : [];

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const r = await request<EmailTestResult>('/api/v1/email/test', {
        method: 'POST',
        body: { to: to.trim(), settings: smtpOverlay(items, draft) },
      });
      setResult({ ok: true, message: r.data.message || `Test email sent to ${to.trim()}.`, detail: r.data.detail ?? '' });
    } catch (err) {
      const detail = err instanceof ApiError && typeof err.body.detail === 'string' ? err.body.detail : '';
      setResult({ ok: false, message: errorText(err), detail });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel email-test" onSubmit={send} aria-labelledby="email-test-title" noValidate>
      <h3 id="email-test-title">Send a test email</h3>
      <p className="hint">
        Uses the SMTP settings as shown on this page
        {typedKeys.length > 0 ? `, including what you typed for ${typedKeys.join(', ')} and have not saved` : ''}.
      </p>
      <div className="email-test-row">
        <div className="field">
          <label htmlFor="email-test-to">Send it to</label>
          <input id="email-test-to" type="email" autoComplete="email" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <button className="btn" type="submit" disabled={busy || !to.trim()} aria-describedby={to.trim() ? undefined : 'email-test-why'}>
          {busy ? 'Sending…' : 'Send test email'}
        </button>
      </div>
      {!to.trim() && (
        <p className="hint" id="email-test-why">
          Type the address to send the test email to.
        </p>
      )}
      <div className="msg-slot" aria-live="polite">
        {result && (
          <div className={`msg ${result.ok ? 'msg-ok' : 'msg-error'}`}>
            <p>{result.message}</p>
            {result.detail && (
              <details>
                <summary>{result.ok ? 'Server reply' : 'Technical detail'}</summary>
                <code>{result.detail}</code>
              </details>
            )}
          </div>
        )}
      </div>
    </form>
  );
}
