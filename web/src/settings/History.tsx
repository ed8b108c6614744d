// A key's history: who changed what, when, and a way to put a past value
// back as a new, audited change.
import { useState } from 'react';
import { errorText, get, request, type AuditRecord, type ConfigHistoryAnswer, type ConfigItem } from '../api';
import { localTime } from '../format';
import { ErrorMessage, Loading, Notice, useLoad } from '../ui';

const MASK = '***SENSITIVE***';

export function History({ item, onRestored }: { item: ConfigItem; onRestored(next: ConfigItem, version: number): void }) {
  const [restoring, setRestoring] = useState(0);
  const [restoreError, setRestoreError] = useState('');
  // Put back the value of one version: a new change, audited, the version
  // rising; the history then shows it on top.
  const restore = async (version: number) => {
    setRestoring(version);
    setRestoreError('');
    const path = `/api/v1/config/${encodeURIComponent(item.key)}`;
    try {
      await request(`${path}/restore`, { method: 'POST', body: { version } });
      onRestored(await get<ConfigItem>(path), version);
    } catch (err) {
      setRestoreError(errorText(err));
    } finally {
      setRestoring(0);
    }
  };
  const h = useLoad(
    (signal) => get<ConfigHistoryAnswer>(`/api/v1/config/${encodeURIComponent(item.key)}/history?limit=50`, signal).then((r) => r.history),
    [item.key, item.version],
  );
  return (
    <div className="history" aria-label={`History of ${item.key}`} role="region">
      <h3>History of {item.key}</h3>
      {h.loading && !h.data && <Loading what="history" lines={2} />}
      {h.error && (h.status === 403 ? <Notice kind="warn">{h.error}</Notice> : <ErrorMessage>{h.error}</ErrorMessage>)}
      <ErrorMessage>{restoreError}</ErrorMessage>
      {h.data && h.data.length === 0 && <p className="muted">No change has been recorded yet: the value comes from its default or the environment.</p>}
      {h.data && h.data.length > 0 && (
        <ol className="history-list">
          {h.data.map((r) => (
            <li key={r.id}>
              <span className="history-when">
                <time dateTime={r.at}>{localTime(r.at)}</time>
              </span>
              <span className="history-who">{r.actor || 'unknown'}</span>
              <span className="history-what">
                {actionText(r.action)} <Shown v={r.old_value} /> → <Shown v={r.new_value} />
              </span>
              <span className="history-version">version {r.version}</span>
              {restorable(item, r) && (
                <button
                  type="button"
                  className="btn btn-small btn-quiet history-restore"
                  disabled={restoring !== 0}
                  onClick={() => void restore(r.version)}
                >
                  {/* The name a screen reader hears starts with the visible word. */}
                  {restoring === r.version ? 'Restoring…' : 'Restore'}
                  <span className="sr-only">
                    {' '}
                    {item.key} to its value of version {r.version}
                  </span>
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/** restorable says whether a history line holds a value to put back: not
 * the current one, not a secret (the history keeps none), not a removal of
 * a key that is already not stored. */
function restorable(item: ConfigItem, r: AuditRecord): boolean {
  if (item.is_sensitive || r.action === 'rekey') return false;
  if (r.action === 'delete') return item.version > 0;
  if (r.new_value === null || r.new_value === MASK || r.new_value === '(unreadable)') return false;
  return !(item.version > 0 && item.version === r.version);
}

function actionText(a: string): string {
  switch (a) {
    case 'create':
      return 'set';
    case 'update':
      return 'changed';
    case 'delete':
      return 'removed';
    case 'bootstrap':
      return 'set from the environment';
    case 'rekey':
      return 're-encrypted';
  }
  return a;
}

function Shown({ v }: { v: string | null }) {
  if (v === null) return <span className="muted">nothing</span>;
  if (v === MASK) return <span className="masked">hidden</span>;
  if (v === '') return <span className="muted">empty</span>;
  return <code className="value-text">{v}</code>;
}
