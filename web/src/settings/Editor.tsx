// One key's editor: an input that fits the type, checked on every
// keystroke, saved with the version it started from (If-Match) so that a
// change made elsewhere is never overwritten unseen.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  ApiError,
  errorText,
  get,
  request,
  type ConfigConstraints,
  type ConfigHistoryAnswer,
  type ConfigItem,
  type ConfigUpdatedAnswer,
} from '../api';
import { localTime } from '../format';
import { Switch } from '../ui';
import type { Question } from './Confirm';
import { checkJSON } from './json';
import { localProblem, refusal, type Draft, type Refusal } from './values';

export function initialText(item: ConfigItem): string {
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

/** stamp tells two states of a key apart: versions start again at 1 after
 * a removal, so the time of the change is part of it. */
export const stamp = (item: ConfigItem) => `${item.source}|${item.version}|${item.last_updated ?? ''}`;

/** envName is the environment variable a key starts from. */
export const envName = (key: string) => key.toUpperCase();

/** Theirs is a change made elsewhere while this editor was open. */
interface Theirs {
  item: ConfigItem;
  by: string | null;
  at: string | null;
  /** The signed-in account made it, in another tab or window. */
  self: boolean;
  /** The editor held no typing of its own and now shows the new value. */
  adopted: boolean;
  /** A removal of ours was refused because of it. */
  refusedRemoval: boolean;
}

export interface EditorProps {
  item: ConfigItem;
  limits: ConfigConstraints;
  me: { id: number; email: string };
  appName: string;
  restored?: Draft;
  onDraft(key: string, d: Draft | null): void;
  onSaved(next: ConfigItem): void;
  onRemoved(prev: ConfigItem, next: ConfigItem | null): void;
  onCancel(): void;
  onChanged(next: ConfigItem): void;
  ask(q: Question): void;
}

export function Editor({ item, limits, me, appName, restored, onDraft, onSaved, onRemoved, onCancel, onChanged, ask }: EditorProps) {
  const id = useId();
  const inputId = `${id}-input`;
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const whyId = `${id}-why`;
  const textRef = useRef<HTMLTextAreaElement>(null);

  // What the editor opened with, and the version it applies to.
  const [base, setBase] = useState(restored?.base ?? item.version);
  const [baseStamp, setBaseStamp] = useState(() => (restored && restored.base !== item.version ? '' : stamp(item)));
  const [start, setStart] = useState(() => ({ text: initialText(item), bool: item.value === 'true' }));
  const [text, setText] = useState(() => restored?.text ?? initialText(item));
  const [bool, setBool] = useState(() => restored?.bool ?? item.value === 'true');
  const [served, setServed] = useState<{ text: string; bool: boolean; refusal: Refusal } | null>(null);
  const [formError, setFormError] = useState<Refusal | null>(null);
  const [theirs, setTheirs] = useState<Theirs | null>(null);
  const [saving, setSaving] = useState(false);
  const [reveal, setReveal] = useState(false);
  // Secrets the server asks for again because this key says where they go.
  const [reentry, setReentry] = useState<{ secrets: string[]; typed: Record<string, string>; problems: Record<string, string> } | null>(null);
  const refusedRemoval = useRef(false);

  useEffect(() => {
    document.getElementById(inputId)?.focus();
  }, [inputId]);

  const dirty = item.is_sensitive ? text !== '' : item.type === 'boolean' ? bool !== start.bool : text !== start.text;

  // Leaving the page (reload, closing the tab) while typing asks the
  // browser's question. The listener lives as long as the editor and reads
  // what was last rendered, so typing is guarded from its first keystroke,
  // not only once the page has caught up with the draft.
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (!dirtyRef.current) return;
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);

  // Tell the page what is unsaved, so that leaving can be questioned and
  // the typing survives a sign-in.
  useEffect(() => {
    onDraft(item.key, dirty ? { key: item.key, text, bool, base } : null);
  }, [dirty, text, bool, base, item.key, onDraft]);

  // A change made elsewhere (another admin, another tab, the answer to a
  // refused save) arrives as a new item. An editor without typing of its
  // own shows the new value; one with typing keeps it and says what
  // changed, and a save then replaces the new value on purpose.
  const now = stamp(item);
  useEffect(() => {
    if (saving || now === baseStamp) return;
    const ctl = new AbortController();
    const adopted = !dirty;
    const removal = refusedRemoval.current;
    refusedRemoval.current = false;
    setBase(item.version);
    setBaseStamp(now);
    if (adopted) {
      const fresh = { text: initialText(item), bool: item.value === 'true' };
      setStart(fresh);
      setText(fresh.text);
      setBool(fresh.bool);
    }
    const tell = (by: string | null, at: string | null) =>
      setTheirs({ item, by, at, self: by !== null && by === me.email, adopted, refusedRemoval: removal });
    if (isStored(item) && item.updated_by) {
      tell(item.updated_by, item.last_updated);
    } else {
      // A removal leaves no row to say who did it; the history does.
      tell(null, null);
      get<ConfigHistoryAnswer>(`/api/v1/config/${encodeURIComponent(item.key)}/history?limit=1`, ctl.signal)
        .then((r) => {
          const last = r.history[0];
          if (last && last.action === 'delete') tell(last.actor || null, last.at);
        })
        .catch(() => {
          // Without the audit log (licence) the notice says it does not know who.
        });
    }
    return () => ctl.abort();
    // Only a new state of the key starts this; typing does not.
  }, [now, saving]);

  const jsonError = item.type === 'json' ? checkJSON(text) : null;
  const problem = localProblem(item, text, limits);
  // A refusal from the server belongs to the text it was about: typing
  // anything else clears it.
  const serverSaid = served && served.text === text && served.bool === bool ? served.refusal : null;
  const shownError = problem || serverSaid?.message || '';
  const unchanged = item.is_sensitive ? text === '' : item.type === 'boolean' ? String(bool) === item.value : text === initialText(item);

  const missing = reentry?.secrets.filter((k) => !reentry.typed[k]) ?? [];
  let why = '';
  if (problem) why = 'Correct the value above to save it.';
  else if (missing.length > 0 && !unchanged) why = `Type ${missing.join(' and ')} again to save.`;
  else if (item.is_sensitive && text === '') why = 'Type a new value to save it.';
  else if (unchanged) why = theirs && dirty ? 'Nothing to save: the value in force is already the one you typed.' : 'Nothing to save: this is the value in force.';

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (why || saving) return;
    setSaving(true);
    setServed(null);
    setFormError(null);
    const value = item.type === 'boolean' ? bool : item.type === 'integer' ? text.trim() : text;
    const path = `/api/v1/config/${encodeURIComponent(item.key)}`;
    try {
      if (reentry) {
        // The key and its secrets go together in one batch. The batch
        // checks the configuration's revision, not this key's version, so
        // the version is checked just before.
        const now = await get<ConfigItem>(path);
        if (now.version !== base) {
          onChanged(now);
          setSaving(false);
          return;
        }
        await request('/api/v1/config', { method: 'PATCH', body: { values: { [item.key]: value, ...reentry.typed } } });
        onSaved(await get<ConfigItem>(path));
        return;
      }
      const r = await request<ConfigUpdatedAnswer>(path, {
        method: 'PUT',
        body: { value },
        headers: { 'If-Match': `"v${base}"` },
      });
      onSaved(r.data.config);
    } catch (err) {
      await explain(err, { text, bool });
      setSaving(false);
    }
  };

  const explain = async (err: unknown, typed?: { text: string; bool: boolean }) => {
    if (!(err instanceof ApiError)) {
      setFormError({ message: errorText(err), detail: '' });
      return;
    }
    if (err.status === 400 && typeof err.body.reason === 'string' && typed) {
      setServed({ ...typed, refusal: refusal(item.key, err.body.reason) });
      return;
    }
    if (err.status === 409 && err.body.error === 'secret_reentry_required' && Array.isArray(err.body.keys)) {
      setReentry({ secrets: err.body.keys.filter((k): k is string => typeof k === 'string'), typed: {}, problems: {} });
      return;
    }
    const problems = err.body.problems;
    if (err.status === 400 && reentry && problems && typeof problems === 'object') {
      // A batch's refusals, key by key: this key's under its field, the
      // secrets' under theirs.
      const byKey = problems as Record<string, string>;
      if (byKey[item.key] && typed) setServed({ ...typed, refusal: refusal(item.key, byKey[item.key]!) });
      setReentry({ ...reentry, problems: Object.fromEntries(reentry.secrets.filter((k) => byKey[k]).map((k) => [k, refusal(k, byKey[k]!).message])) });
      return;
    }
    if (err.status === 412) {
      // Someone changed the key since this editor started: load it, and
      // the change notice above says who and what.
      try {
        onChanged(await get<ConfigItem>(`/api/v1/config/${encodeURIComponent(item.key)}`));
      } catch (again) {
        if (again instanceof ApiError && again.status === 404) onRemoved(item, null);
        else setFormError({ message: `This setting was changed elsewhere, and loading the change failed: ${errorText(again)}`, detail: '' });
      }
      return;
    }
    const detail = typeof err.body.detail === 'string' ? err.body.detail : '';
    setFormError({ message: err.message, detail });
  };

  // Removing the stored row lets the key fall back to its environment
  // variable or default. It is asked first, naming the key.
  const remove = async () => {
    setSaving(true);
    setServed(null);
    setFormError(null);
    const path = `/api/v1/config/${encodeURIComponent(item.key)}`;
    try {
      await request(path, { method: 'DELETE', headers: { 'If-Match': `"v${base}"` } });
    } catch (err) {
      refusedRemoval.current = err instanceof ApiError && err.status === 412;
      await explain(err);
      setSaving(false);
      return;
    }
    try {
      onRemoved(item, await get<ConfigItem>(path));
    } catch (err) {
      // An undeclared key is gone entirely once its row is deleted.
      if (err instanceof ApiError && err.status === 404) onRemoved(item, null);
      else setFormError({ message: errorText(err), detail: '' });
      setSaving(false);
    }
  };

  const askRemove = () =>
    ask({
      title: `Remove the stored value of ${item.key}?`,
      body: (
        <>
          <p>{fallbackText(item)}</p>
          <p>
            {item.is_sensitive
              ? 'The stored secret cannot be brought back afterwards: you would have to type it again.'
              : 'For a few seconds afterwards you can undo this.'}
          </p>
        </>
      ),
      yes: 'Remove stored value',
      no: 'Keep it',
      onYes: () => void remove(),
    });

  const goToError = () => {
    const ta = textRef.current;
    if (!ta || !jsonError) return;
    ta.focus();
    ta.setSelectionRange(jsonError.offset, Math.min(text.length, jsonError.offset + 1));
  };

  const useTheirs = () => {
    const fresh = { text: initialText(item), bool: item.value === 'true' };
    setStart(fresh);
    setText(fresh.text);
    setBool(fresh.bool);
    setTheirs((t) => (t ? { ...t, adopted: true } : t));
  };

  const describedBy = [hintId, shownError ? errId : ''].filter(Boolean).join(' ');
  const choices = item.type === 'string' && !item.is_sensitive ? limits.choices : undefined;
  let input: ReactNode;
  if (item.type === 'boolean') {
    input = <Switch id={inputId} checked={bool} onChange={setBool} label={`New value for ${item.key}`} describedBy={describedBy} />;
  } else if (item.type === 'json') {
    input = (
      <textarea
        id={inputId}
        ref={textRef}
        className="code"
        rows={Math.min(16, Math.max(5, text.split('\n').length + 1))}
        spellCheck={false}
        value={text}
        aria-invalid={Boolean(shownError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  } else if (choices) {
    input = (
      <select id={inputId} value={text} aria-invalid={Boolean(shownError)} aria-describedby={describedBy} onChange={(e) => setText(e.target.value)}>
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
        // Integers are typed as text so that what is in the field is
        // what is checked ("abc" or "1e3" in a number field reads as "").
        inputMode={item.type === 'integer' ? 'numeric' : undefined}
        autoComplete={item.is_sensitive ? 'new-password' : 'off'}
        spellCheck={false}
        placeholder={item.is_sensitive ? (item.is_set ? 'Type a new value to replace the stored one' : 'Type a value') : undefined}
        value={text}
        aria-invalid={Boolean(shownError)}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  }

  return (
    <form className="editor" onSubmit={save} aria-label={`Edit ${item.key}`} noValidate>
      {restored && <p className="msg msg-info">Your unsaved value was kept. It is not saved yet.</p>}
      {theirs && <ChangeNotice theirs={theirs} dirty={dirty} onUseTheirs={useTheirs} onRemoveAnyway={askRemove} onClose={onCancel} />}
      <div className="editor-field">
        <label htmlFor={inputId}>New value for {item.key}</label>
        <div className="editor-input">
          {input}
          {item.is_sensitive && (
            <button type="button" className="btn btn-small btn-quiet" aria-pressed={reveal} onClick={() => setReveal(!reveal)}>
              {reveal ? 'Hide what I typed' : 'Show what I typed'}
            </button>
          )}
          {item.type === 'json' && (
            <button
              type="button"
              className="btn btn-small btn-quiet"
              aria-describedby={jsonError ? errId : undefined}
              onClick={() => (jsonError ? goToError() : setText(pretty(text)))}
            >
              Format
            </button>
          )}
        </div>
        <p className="hint" id={hintId}>
          {hintFor(item, limits, appName)}
        </p>
        <div className="msg-slot">
          {shownError && (
            <div className="msg msg-error field-error" id={errId} role="alert">
              <p>{shownError}</p>
              {jsonError && (
                <>
                  <pre className="json-mark" aria-hidden="true">
                    {markLine(text, jsonError.line, jsonError.column)}
                  </pre>
                  <button type="button" className="btn btn-small" onClick={goToError}>
                    Go to line {jsonError.line}, column {jsonError.column}
                  </button>
                </>
              )}
              {!problem && serverSaid?.detail && (
                <details>
                  <summary>What the server said</summary>
                  <code>{serverSaid.detail}</code>
                </details>
              )}
            </div>
          )}
        </div>
      </div>

      {reentry && (
        <fieldset className="reentry">
          <legend>Type {reentry.secrets.join(' and ')} again</legend>
          <p className="hint">
            Changing {item.key} would send {reentry.secrets.join(' and ')} to a new place, so the server asks for{' '}
            {reentry.secrets.length === 1 ? 'it' : 'them'} again with this change. Saving stores them together.
          </p>
          {reentry.secrets.map((k) => (
            <div key={k} className="reentry-field">
              <label htmlFor={`${id}-again-${k}`}>{k}</label>
              <input
                id={`${id}-again-${k}`}
                type="password"
                autoComplete="new-password"
                value={reentry.typed[k] ?? ''}
                aria-invalid={Boolean(reentry.problems[k])}
                aria-describedby={reentry.problems[k] ? `${id}-again-${k}-err` : undefined}
                onChange={(e) => setReentry({ ...reentry, typed: { ...reentry.typed, [k]: e.target.value }, problems: { ...reentry.problems, [k]: '' } })}
              />
              {reentry.problems[k] && (
                <p className="msg msg-error" id={`${id}-again-${k}-err`}>
                  {reentry.problems[k]}
                </p>
              )}
            </div>
          ))}
        </fieldset>
      )}

      {formError && (
        <div className="msg msg-error" role="alert">
          <p>{formError.message}</p>
          {formError.detail && (
            <details>
              <summary>Technical detail</summary>
              <code>{formError.detail}</code>
            </details>
          )}
        </div>
      )}

      <div className="editor-actions">
        <button className="btn btn-primary" type="submit" disabled={saving || Boolean(why)} aria-describedby={why ? whyId : undefined}>
          {saving ? 'Saving…' : theirs && dirty && !theirs.adopted ? 'Save mine anyway' : 'Save'}
        </button>
        <button className="btn" type="button" onClick={onCancel}>
          Cancel
        </button>
        {isStored(item) && (
          <button className="btn btn-quiet editor-reset" type="button" onClick={askRemove} disabled={saving}>
            Remove stored value
          </button>
        )}
      </div>
      <p className="save-why hint" id={whyId}>
        {!saving && why}
      </p>
    </form>
  );
}

function ChangeNotice({
  theirs,
  dirty,
  onUseTheirs,
  onRemoveAnyway,
  onClose,
}: {
  theirs: Theirs;
  dirty: boolean;
  onUseTheirs(): void;
  onRemoveAnyway(): void;
  onClose(): void;
}) {
  const { item, by, at, self } = theirs;
  const who = self ? 'You' : by ?? 'Someone';
  const where = self ? ' in another tab or window' : '';
  const when = at ? ` at ${localTime(at)}` : '';
  const stored = isStored(item);
  const value = item.is_sensitive ? (
    'a new hidden value'
  ) : (
    <code className="fresh-value">{item.value === '' ? '(empty)' : item.value}</code>
  );
  return (
    <div className="conflict" role="alert">
      <p>
        <strong>
          {who} {stored ? 'changed' : 'removed the stored value of'} this setting{where}
          {when} while you were editing.
        </strong>{' '}
        {stored ? <>It is now {value}.</> : <>It now comes from its {item.source === 'environment' ? 'environment variable' : 'default'}: {value}.</>}
        {!self && by === null && !stored && ' Who removed it is in the history when the licence includes the audit log.'}
      </p>
      {theirs.refusedRemoval && <p>Nothing was removed: your removal was for the value you opened.</p>}
      {theirs.adopted ? (
        <p>The field now shows this value.</p>
      ) : dirty ? (
        <p>{self ? 'What you typed here is still in the field. Saving replaces the other change with it.' : 'Your value is still in the field. Saving replaces theirs with yours.'}</p>
      ) : null}
      <div className="conflict-actions">
        {!theirs.adopted && dirty && (
          <button type="button" className="btn btn-small" onClick={onUseTheirs}>
            {self ? 'Use the new value' : 'Use their value'}
          </button>
        )}
        {theirs.refusedRemoval && stored && (
          <button type="button" className="btn btn-small" onClick={onRemoveAnyway}>
            Remove this value too
          </button>
        )}
        {theirs.refusedRemoval && (
          <button type="button" className="btn btn-small" onClick={onClose}>
            {self ? 'Keep the new value' : 'Keep their value'}
          </button>
        )}
      </div>
    </div>
  );
}

/** fallbackText says what a key takes once its stored value is removed. */
export function fallbackText(item: ConfigItem): string {
  const env = envName(item.key);
  const def = item.is_sensitive ? '' : item.default ? ` (${item.default})` : ' (empty)';
  if (item.env_differs) return `${item.key} then takes the value of the environment variable ${env}, which differs from the stored one.`;
  return `${item.key} then takes the value of the environment variable ${env} when it is set, otherwise its default${def}.`;
}

/** sourceText explains where the value in force comes from and what wins. */
export function sourceText(item: ConfigItem): string {
  const env = envName(item.key);
  const ignored = item.env_differs ? ` ${env} is now set to something else, and is ignored while a value is stored: remove the stored value to use it.` : '';
  switch (item.source) {
    case 'database':
      return item.env_differs ? `The stored value is in force.${ignored}` : `The stored value is in force; it wins over ${env} and the default.`;
    case 'environment':
      return isStored(item)
        ? `Copied from the environment variable ${env} at the first start and stored; the stored value is in force.${ignored || ` Later changes to ${env} are ignored.`}`
        : `Nothing is stored: the value comes from the environment variable ${env}. Saving here stores a value that wins over it.`;
    case 'default':
      return item.env_differs
        ? `${env} is set but its value is refused by this setting's rule, so the default is in force.`
        : `Nothing is stored and ${env} is not set: the default is in force.`;
  }
  return '';
}

/** isStored says whether the key has a row in the database (a saved value
 * or one copied from the environment at the first start). */
export const isStored = (item: ConfigItem) => item.version > 0;

function hintFor(item: ConfigItem, limits: ConfigConstraints, appName: string): string {
  const parts: string[] = [];
  if (item.is_sensitive) parts.push('The stored value is never shown. Type a new value to replace it.');
  switch (item.type) {
    case 'integer':
      parts.push(
        limits.min !== undefined && limits.max !== undefined ? `A whole number from ${limits.min} to ${limits.max}.` : 'A whole number.',
      );
      break;
    case 'boolean':
      parts.push('On or off.');
      break;
    case 'json':
      parts.push('JSON, checked as you type.');
      break;
  }
  if (item.key === 'marchproxy_extras') {
    parts.push(
      `Service names follow the {app_name}-{service} rule: with app_name “${appName}” each name starts with “${appName}-” followed by lower-case letters, digits and hyphens.`,
    );
  }
  const rangeSaid = item.type === 'integer' && limits.min !== undefined && limits.max !== undefined;
  if (item.rule && !rangeSaid && item.type !== 'json') parts.push(`It must be ${item.rule}.`);
  if (item.default) parts.push(`Default: ${item.default}.`);
  parts.push(sourceText(item));
  return parts.join(' ');
}

/** markLine shows the line with the error and a caret under its column. */
function markLine(text: string, line: number, column: number): string {
  const l = text.split('\n')[line - 1] ?? '';
  // Long lines are cut around the column so the caret stays in view.
  const from = Math.max(0, column - 40);
  const shown = l.slice(from, from + 80);
  return `${shown}\n${' '.repeat(Math.max(0, column - 1 - from))}^`;
}
