// The standards' settings page: every key grouped by category, searchable
// and filterable, each editable with an input that fits its type, saved
// with the version it was loaded at so that a concurrent change is caught.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { ApiError, errorText, get, request, send, sentence, type AuditRecord, type ConfigItem } from '../api';
import { ago, human, localTime } from '../format';
import { readSSE } from '../sse';
import { ErrorMessage, Loading, Notice, PageTitle, Switch, useLoad } from '../ui';

const MASK = '***SENSITIVE***';

// The standards' categories, in the order the API lists them.
const categoryOrder = ['integration', 'email', 'security', 'database', 'system', 'license'];

const categoryBlurb: Record<string, string> = {
  integration: 'External services: WaddleAI, KillKrill, MarchProxy.',
  email: 'SMTP server and sender of outgoing mail.',
  security: 'Sign-in and other security settings.',
  database: 'Database connection settings.',
  system: 'General settings of the application.',
  license: 'The PenguinTech licence and its server.',
};

/** KeySchema is one key's entry in GET /api/v1/config/schema (JSON Schema
 * 2020-12): the editors read their limits from it. */
export interface KeySchema {
  minimum?: number;
  maximum?: number;
  enum?: (string | null)[];
  format?: string;
}

interface ConfigSchema {
  properties?: { values?: { properties?: Record<string, KeySchema> } };
}

export function SettingsPage() {
  const list = useLoad((signal) => get<{ configs: ConfigItem[] }>('/api/v1/config', signal).then((r) => r.configs));
  // Without the schema the editors still work, only without limits.
  const schema = useLoad((signal) =>
    get<ConfigSchema>('/api/v1/config/schema', signal).then((r) => r.properties?.values?.properties ?? {}),
  );
  const [query, setQuery] = useState('');
  const [category, setCategory] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [history, setHistory] = useState<string | null>(null);
  const [saved, setSaved] = useState('');

  const items = list.data ?? [];
  const categories = useMemo(() => {
    const present = [...new Set(items.map((c) => c.category))];
    return present.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }, [items]);

  const q = query.trim().toLowerCase();
  const shown = items.filter(
    (c) =>
      (!category || c.category === category) &&
      (!q || c.key.toLowerCase().includes(q) || c.description.toLowerCase().includes(q)),
  );
  const groups = categories
    .map((cat) => ({ cat, rows: shown.filter((c) => c.category === cat) }))
    .filter((g) => g.rows.length > 0);

  // Changes committed anywhere (another tab, another admin, another
  // replica) arrive on the event stream; the list reloads so the page is
  // never stale. Open editors keep what is typed: they are keyed by name.
  const reload = list.reload;
  useEffect(() => {
    const ctl = new AbortController();
    let wait = 1000;
    // After a reconnect the stream starts afresh: what changed while it
    // was down is only in a reload.
    let connectedBefore = false;
    const follow = async () => {
      while (!ctl.signal.aborted) {
        try {
          const res = await send('/api/v1/config/events', { signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
          if (!res.ok || !res.body) break; // signed out or not allowed: the page says so elsewhere
          wait = 1000;
          await readSSE(res.body, (ev) => {
            if (ev.event === 'ready') {
              if (connectedBefore) reload();
              connectedBefore = true;
            }
            if (ev.event === 'change' || ev.event === 'resync') reload();
          });
        } catch {
          if (ctl.signal.aborted) return;
        }
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 30000);
      }
    };
    void follow();
    return () => ctl.abort();
  }, [reload]);

  const replace = (next: ConfigItem) => {
    if (list.data) list.set(list.data.map((c) => (c.key === next.key ? next : c)));
  };
  const remove = (key: string) => {
    if (list.data) list.set(list.data.filter((c) => c.key !== key));
  };

  return (
    <section className="page page-wide">
      <PageTitle lead="Settings start from environment variables; after that the database is the source of truth and changes apply at once, without a restart.">
        Settings
      </PageTitle>

      <div className="toolbar" role="search">
        <div className="field">
          <label htmlFor="settings-search">Search</label>
          <input
            id="settings-search"
            type="search"
            placeholder="Key or description, e.g. smtp"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="settings-category">Category</label>
          <select id="settings-category" value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">All categories</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {human(c)}
              </option>
            ))}
          </select>
        </div>
        <p className="toolbar-count" aria-live="polite">
          {list.data ? `${shown.length} of ${items.length} settings` : ''}
        </p>
      </div>

      <div className="msg-slot" aria-live="polite">
        {saved && <Notice kind="ok">{saved}</Notice>}
      </div>

      {list.loading && !list.data && <Loading what="settings" lines={6} />}
      {list.error && (
        <div className="panel">
          <ErrorMessage>{list.error}</ErrorMessage>
          <button className="btn" type="button" onClick={list.reload}>
            Try again
          </button>
        </div>
      )}
      {list.data && groups.length === 0 && (
        <div className="panel empty">
          <p>No setting matches {q ? <strong>“{query.trim()}”</strong> : 'this filter'}.</p>
          <button
            className="btn"
            type="button"
            onClick={() => {
              setQuery('');
              setCategory('');
            }}
          >
            Show all settings
          </button>
        </div>
      )}

      {groups.map(({ cat, rows }) => (
        <section key={cat} className="category" aria-labelledby={`cat-${cat}`}>
          <h2 id={`cat-${cat}`}>
            {human(cat)} <span className="count">{rows.length}</span>
          </h2>
          {categoryBlurb[cat] && <p className="muted">{categoryBlurb[cat]}</p>}
          <table className="settings">
            <thead>
              <tr>
                <th scope="col">Setting</th>
                <th scope="col">Value</th>
                <th scope="col">Last updated</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <SettingRows
                  key={c.key}
                  item={c}
                  schema={schema.data?.[c.key]}
                  editing={editing === c.key}
                  historyOpen={history === c.key}
                  onEdit={() => {
                    setSaved('');
                    setEditing(editing === c.key ? null : c.key);
                  }}
                  onHistory={() => setHistory(history === c.key ? null : c.key)}
                  onChanged={replace}
                  onRestored={(next, version) => {
                    replace(next);
                    setSaved(`Restored ${next.key} to its value of version ${version}; it is now version ${next.version}.`);
                  }}
                  onSaved={(next) => {
                    replace(next);
                    setEditing(null);
                    setSaved(`Saved ${next.key}. The new value is in force.`);
                  }}
                  onReset={(key, next) => {
                    if (next) replace(next);
                    else remove(key);
                    setEditing(null);
                    setSaved(
                      next
                        ? `Removed the stored value of ${key}; it now comes from ${next.source === 'environment' ? 'its environment variable' : 'its default'}.`
                        : `Removed ${key}.`,
                    );
                  }}
                  onCancel={() => setEditing(null)}
                />
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </section>
  );
}

function rank(cat: string): number {
  const i = categoryOrder.indexOf(cat);
  return i < 0 ? categoryOrder.length : i;
}

interface RowProps {
  item: ConfigItem;
  schema?: KeySchema;
  editing: boolean;
  historyOpen: boolean;
  onEdit(): void;
  onHistory(): void;
  onChanged(next: ConfigItem): void;
  onRestored(next: ConfigItem, version: number): void;
  onSaved(next: ConfigItem): void;
  onReset(key: string, next: ConfigItem | null): void;
  onCancel(): void;
}

function SettingRows({ item, schema, editing, historyOpen, onEdit, onHistory, onChanged, onRestored, onSaved, onReset, onCancel }: RowProps) {
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(editing);
  // Give focus back to the Edit button when the editor closes.
  useEffect(() => {
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  return (
    <>
      <tr data-key={item.key} className={editing ? 'is-editing' : undefined}>
        <td data-label="Setting" className="cell-key">
          <code className="key">{item.key}</code>
          <span className="desc">{item.description || 'No description.'}</span>
          <span className="meta">
            {item.type}
            {item.is_sensitive && ' · sensitive'}
            {item.rule && ` · ${item.rule}`}
          </span>
        </td>
        <td data-label="Value" className="cell-value">
          <ValueView item={item} />
        </td>
        <td data-label="Last updated" className="cell-updated">
          <Updated item={item} />
        </td>
        <td className="cell-actions">
          <button
            ref={editButton}
            type="button"
            className="btn btn-small"
            aria-expanded={editing}
            aria-label={`Edit ${item.key}`}
            onClick={onEdit}
          >
            Edit
          </button>
          <button
            type="button"
            className="btn btn-small btn-quiet"
            aria-expanded={historyOpen}
            aria-label={`History of ${item.key}`}
            onClick={onHistory}
          >
            History
          </button>
        </td>
      </tr>
      {editing && (
        <tr className="row-extra">
          <td colSpan={4}>
            <Editor item={item} schema={schema} onSaved={onSaved} onReset={onReset} onCancel={onCancel} onChanged={onChanged} />
          </td>
        </tr>
      )}
      {historyOpen && (
        <tr className="row-extra">
          <td colSpan={4}>
            <History item={item} onRestored={onRestored} />
          </td>
        </tr>
      )}
    </>
  );
}

const sourceLabel: Record<string, string> = {
  database: 'stored',
  environment: 'from environment',
  default: 'default',
};

function ValueView({ item }: { item: ConfigItem }) {
  const source = <span className={`badge badge-${item.source}`}>{sourceLabel[item.source] ?? item.source}</span>;
  if (item.is_sensitive) {
    return (
      <span className="value">
        <span className="masked">{item.is_set ? '•••••••• hidden' : 'not set'}</span> {source}
      </span>
    );
  }
  if (item.type === 'boolean') {
    const on = item.value === 'true';
    return (
      <span className="value">
        <span className={`pill ${on ? 'pill-on' : 'pill-off'}`}>{on ? 'On' : 'Off'}</span> {source}
      </span>
    );
  }
  if (item.value === '') {
    return (
      <span className="value">
        <span className="muted">empty</span> {source}
      </span>
    );
  }
  return (
    <span className="value">
      <code className="value-text">{item.value}</code> {source}
    </span>
  );
}

function Updated({ item }: { item: ConfigItem }) {
  if (!item.last_updated) return <span className="muted">never changed</span>;
  return (
    <span>
      <time dateTime={item.last_updated} title={ago(item.last_updated)}>
        {localTime(item.last_updated)}
      </time>
      <span className="by">by {item.updated_by || 'unknown'}</span>
    </span>
  );
}

// ---- editing ----

function initialText(item: ConfigItem): string {
  if (item.is_sensitive) return '';
  if (item.type === 'json') return pretty(item.value);
  return item.value;
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** jsonProblem says what is wrong with text as JSON, or '' when it parses. */
export function jsonProblem(text: string): string {
  if (text.trim() === '') return 'Enter a JSON value, for example {} or [].';
  try {
    JSON.parse(text);
    return '';
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg);
    if (pos) {
      const at = Number(pos[1]);
      const before = text.slice(0, at);
      const line = before.split('\n').length;
      const col = at - before.lastIndexOf('\n');
      return `This is not valid JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')} (line ${line}, column ${col}).`;
    }
    return `This is not valid JSON: ${msg}.`;
  }
}

/** choicesOf lists a key's accepted values from its schema ('' when the
 * empty value is accepted too); null when any value goes. */
export const choicesOf = (schema?: KeySchema): string[] | null => {
  const values = schema?.enum?.filter((v): v is string => typeof v === 'string');
  return values && values.length > 0 ? values : null;
};

interface Conflict {
  fresh: ConfigItem;
}

function Editor({
  item,
  schema,
  onSaved,
  onReset,
  onCancel,
  onChanged,
}: {
  item: ConfigItem;
  schema?: KeySchema;
  onSaved(next: ConfigItem): void;
  onReset(key: string, next: ConfigItem | null): void;
  onCancel(): void;
  onChanged(next: ConfigItem): void;
}) {
  const id = useId();
  const inputId = `${id}-input`;
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  // The version this edit started from: sent as If-Match, so a change made
  // by someone else in the meantime is refused instead of overwritten.
  const [base, setBase] = useState(item.version);
  const [text, setText] = useState(() => initialText(item));
  const [bool, setBool] = useState(item.value === 'true');
  const [fieldError, setFieldError] = useState('');
  const [formError, setFormError] = useState('');
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [saving, setSaving] = useState(false);
  const [reveal, setReveal] = useState(false);
  useEffect(() => {
    document.getElementById(inputId)?.focus();
  }, [inputId]);

  const jsonError = item.type === 'json' ? jsonProblem(text) : '';
  const intError =
    item.type === 'integer' && text.trim() !== '' && !/^-?\d+$/.test(text.trim()) ? 'Enter a whole number, such as 25.' : '';
  const localError = jsonError || intError;
  const empty = item.type !== 'boolean' && text.trim() === '' && (item.is_sensitive || item.type === 'integer');
  const unchanged = !item.is_sensitive && (item.type === 'boolean' ? String(bool) === item.value : text === initialText(item));

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (localError || empty) return;
    setSaving(true);
    setFieldError('');
    setFormError('');
    let value: unknown;
    if (item.type === 'boolean') value = bool;
    else if (item.type === 'integer') value = text.trim();
    else value = text;
    try {
      const r = await request<{ config: ConfigItem }>(`/api/v1/config/${encodeURIComponent(item.key)}`, {
        method: 'PUT',
        body: { value },
        headers: { 'If-Match': `"v${base}"` },
      });
      onSaved(r.data.config);
    } catch (err) {
      await explain(err);
      setSaving(false);
    }
  };

  const explain = async (err: unknown) => {
    if (!(err instanceof ApiError)) {
      setFormError(errorText(err));
      return;
    }
    if (err.status === 400 && typeof err.body.reason === 'string') {
      setFieldError(sentence(`The value ${err.body.reason}`));
      return;
    }
    if (err.status === 412) {
      try {
        const fresh = await get<ConfigItem>(`/api/v1/config/${encodeURIComponent(item.key)}`);
        setConflict({ fresh });
        setBase(fresh.version);
        onChanged(fresh);
      } catch (again) {
        setFormError(`Someone else changed this setting while you were editing, and loading their change failed: ${errorText(again)}`);
      }
      return;
    }
    setFormError(err.message);
  };

  // Removing the stored row lets the key fall back to its environment
  // variable or default, as the standards' DELETE does.
  const reset = async () => {
    setSaving(true);
    setFieldError('');
    setFormError('');
    const path = `/api/v1/config/${encodeURIComponent(item.key)}`;
    try {
      await request(path, { method: 'DELETE', headers: { 'If-Match': `"v${base}"` } });
    } catch (err) {
      await explain(err);
      setSaving(false);
      return;
    }
    try {
      onReset(item.key, await get<ConfigItem>(path));
    } catch (err) {
      // An undeclared key is gone entirely once its row is deleted.
      if (err instanceof ApiError && err.status === 404) onReset(item.key, null);
      else setFormError(errorText(err));
      setSaving(false);
    }
  };

  const takeTheirs = () => {
    if (!conflict) return;
    onChanged(conflict.fresh);
    onCancel();
  };

  const describedBy = [hintId, fieldError || localError ? errId : ''].filter(Boolean).join(' ');
  const min = schema?.minimum;
  const max = schema?.maximum;
  const choices = item.type === 'string' && !item.is_sensitive ? choicesOf(schema) : null;

  let input;
  if (item.type === 'boolean') {
    input = (
      <Switch
        id={inputId}
        checked={bool}
        onChange={setBool}
        label={`New value for ${item.key}`}
        describedBy={describedBy}
      />
    );
  } else if (item.type === 'integer') {
    input = (
      <input
        id={inputId}
        type="number"
        inputMode="numeric"
        step={1}
        min={min}
        max={max}
        value={text}
        aria-invalid={Boolean(fieldError || localError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  } else if (item.type === 'json') {
    input = (
      <textarea
        id={inputId}
        className="code"
        rows={Math.min(16, Math.max(5, text.split('\n').length + 1))}
        spellCheck={false}
        value={text}
        aria-invalid={Boolean(fieldError || localError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  } else if (choices) {
    input = (
      <select
        id={inputId}
        value={text}
        aria-invalid={Boolean(fieldError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      >
        {!choices.includes(text) && <option value={text}>{text || '(empty)'}</option>}
        {choices.map((c) => (
          <option key={c} value={c}>
            {c === '' ? '(empty)' : c}
          </option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        id={inputId}
        type={item.is_sensitive && !reveal ? 'password' : 'text'}
        autoComplete={item.is_sensitive ? 'new-password' : 'off'}
        spellCheck={false}
        placeholder={item.is_sensitive ? (item.is_set ? 'Type a new value to replace the stored one' : 'Type a value') : undefined}
        value={text}
        aria-invalid={Boolean(fieldError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  }

  return (
    <form className="editor" onSubmit={save} aria-label={`Edit ${item.key}`} noValidate>
      <div className="editor-field">
        {/* The switch carries its own aria-label; the visible label serves both. */}
        <label htmlFor={inputId}>New value for {item.key}</label>
        <div className="editor-input">
          {input}
          {item.is_sensitive && (
            <button type="button" className="btn btn-small btn-quiet" aria-pressed={reveal} onClick={() => setReveal(!reveal)}>
              {reveal ? 'Hide what I typed' : 'Show what I typed'}
            </button>
          )}
          {item.type === 'json' && !jsonError && (
            <button type="button" className="btn btn-small btn-quiet" onClick={() => setText(pretty(text))}>
              Format
            </button>
          )}
        </div>
        <p className="hint" id={hintId}>
          {hintFor(item)}
        </p>
        <div className="msg-slot">
          {(fieldError || localError) && (
            <p className="msg msg-error field-error" id={errId} role="alert">
              {fieldError || localError}
            </p>
          )}
        </div>
      </div>

      {conflict && (
        <div className="conflict" role="alert">
          <p>
            <strong>Someone else changed this setting while you were editing.</strong>{' '}
            {conflict.fresh.updated_by ? `${conflict.fresh.updated_by} saved it` : 'It was saved'}
            {conflict.fresh.last_updated ? ` at ${localTime(conflict.fresh.last_updated)}` : ''}; it is now{' '}
            {conflict.fresh.is_sensitive ? (
              'a new hidden value'
            ) : (
              <code className="fresh-value">{conflict.fresh.value === '' ? '(empty)' : conflict.fresh.value}</code>
            )}
            .
          </p>
          <p>Your value is still in the field. Save again to replace theirs with yours, or keep theirs.</p>
          <button type="button" className="btn btn-small" onClick={takeTheirs}>
            Keep their value
          </button>
        </div>
      )}

      <ErrorMessage>{formError}</ErrorMessage>

      <div className="editor-actions">
        <button className="btn btn-primary" type="submit" disabled={saving || Boolean(localError) || empty || (unchanged && !conflict)}>
          {saving ? 'Saving…' : conflict ? 'Save mine anyway' : 'Save'}
        </button>
        <button className="btn" type="button" onClick={onCancel}>
          Cancel
        </button>
        {item.source === 'database' && (
          <button className="btn btn-quiet editor-reset" type="button" onClick={reset} disabled={saving}>
            Remove stored value
          </button>
        )}
      </div>
    </form>
  );
}

function hintFor(item: ConfigItem): string {
  const parts: string[] = [];
  if (item.is_sensitive) parts.push('The stored value is never shown. Type a new value to replace it.');
  switch (item.type) {
    case 'integer':
      parts.push('A whole number.');
      break;
    case 'boolean':
      parts.push('On or off.');
      break;
    case 'json':
      parts.push('JSON, checked before it is saved.');
      break;
  }
  if (item.rule) parts.push(sentence(`Must be ${item.rule}`));
  if (item.default) parts.push(`Default: ${item.default}.`);
  return parts.join(' ');
}

// ---- history ----

function History({ item, onRestored }: { item: ConfigItem; onRestored(next: ConfigItem, version: number): void }) {
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
    (signal) => get<{ history: AuditRecord[] }>(`/api/v1/config/${encodeURIComponent(item.key)}/history?limit=50`, signal).then((r) => r.history),
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
                  aria-label={`Restore ${item.key} to its value of version ${r.version}`}
                  onClick={() => void restore(r.version)}
                >
                  {restoring === r.version ? 'Restoring…' : 'Restore this value'}
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
  if (r.action === 'delete') return item.source === 'database';
  if (r.new_value === null || r.new_value === MASK || r.new_value === '(unreadable)') return false;
  return !(item.source === 'database' && item.version === r.version);
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
