// The standards' settings page: every key grouped by category, searchable
// (also by category and description, from the address: ?q=smtp, #smtp_port)
// and editable with an input that fits its type, saved with the version it
// was loaded at so that a concurrent change is caught. Changes made
// elsewhere arrive live; unsaved typing is never dropped without asking.
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, errorText, get, request, send, type ConfigItem, type ConfigListAnswer, type ConfigUpdatedAnswer } from '../api';
import { ago, human, localTime } from '../format';
import { navigate } from '../router';
import { useSession } from '../session';
import { ConfirmDialog, type Question } from '../settings/Confirm';
import { EmailTest } from '../settings/EmailTest';
import { Editor, envName, sourceText } from '../settings/Editor';
import { History } from '../settings/History';
import { dropAllDrafts, dropDraft, limitsOf, loadDrafts, saveDraft, type Draft, type KeySchema } from '../settings/values';
import { readSSE } from '../sse';
import { ErrorMessage, Loading, PageTitle, useLoad } from '../ui';

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

interface ConfigSchema {
  properties?: { values?: { properties?: Record<string, KeySchema> } };
}

/** RowNote is what the page says at a row after an action there. */
interface RowNote {
  text: string;
  /** Puts the previous value back; offered for a few seconds. */
  undo?: () => Promise<void>;
}

const undoSeconds = 10;

/** matches says whether a setting fits the search: its key, description,
 * category or the category's description. */
function matches(c: ConfigItem, q: string): boolean {
  if (!q) return true;
  return [c.key, c.description, c.category, human(c.category), categoryBlurb[c.category] ?? ''].some((s) => s.toLowerCase().includes(q));
}

export function SettingsPage() {
  const { me } = useSession();
  const user = me!; // the page is only shown signed in
  const list = useLoad((signal) => get<ConfigListAnswer>('/api/v1/config', signal).then((r) => r.configs));
  // Without the schema the editors still work, only without limits.
  const schema = useLoad((signal) =>
    get<ConfigSchema>('/api/v1/config/schema', signal).then((r) => r.properties?.values?.properties ?? {}),
  );
  const [query, setQuery] = useState(() => new URLSearchParams(window.location.search).get('q') ?? '');
  const [category, setCategory] = useState('');
  // A draft kept from before a sign-in opens its editor again.
  const [restored, setRestored] = useState<Draft | undefined>(() => Object.values(loadDrafts(user.id))[0]);
  const [editing, setEditing] = useState<string | null>(() => restored?.key ?? null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [history, setHistory] = useState<string | null>(null);
  const [notes, setNotes] = useState<Record<string, RowNote>>({});
  const [announce, setAnnounce] = useState('');
  const [question, setQuestion] = useState<Question | null>(null);
  const [target, setTarget] = useState('');

  const items = useMemo(() => list.data ?? [], [list.data]);
  const categories = useMemo(() => {
    const present = [...new Set(items.map((c) => c.category))];
    return present.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }, [items]);
  const appName = items.find((c) => c.key === 'app_name')?.value ?? '';

  const q = query.trim().toLowerCase();
  // The row being edited stays while the search changes: hiding it would
  // throw away what is typed in it.
  const shown = items.filter((c) => c.key === editing || ((!category || c.category === category) && matches(c, q)));
  const groups = categories.map((cat) => ({ cat, rows: shown.filter((c) => c.category === cat) })).filter((g) => g.rows.length > 0);

  // The search is part of the address, so it can be linked and survives a reload.
  const changeQuery = (v: string) => {
    setQuery(v);
    const t = v.trim();
    const { pathname, hash } = window.location;
    window.history.replaceState(window.history.state, '', pathname + (t ? `?q=${encodeURIComponent(t)}` : '') + hash);
  };

  // ---- unsaved typing ----

  const draftRef = useRef(draft);
  draftRef.current = draft;
  const onDraft = useCallback(
    (key: string, d: Draft | null) => {
      setDraft(d);
      const item = list.data?.find((c) => c.key === key);
      // Typing undone is no draft; a typed secret stays in the page only, never in storage.
      if (!d || item?.is_sensitive) dropDraft(user.id, key);
      else saveDraft(user.id, d);
    },
    [list.data, user.id],
  );
  const closeEditor = useCallback(
    (key: string) => {
      dropDraft(user.id, key);
      setDraft(null);
      setRestored(undefined);
      setEditing((e) => (e === key ? null : e));
    },
    [user.id],
  );

  // A kept draft of a key that no longer exists has nothing to come back to.
  const draftGone = Boolean(list.data && editing && !list.data.some((c) => c.key === editing));
  useEffect(() => {
    if (draftGone && editing) closeEditor(editing);
  }, [draftGone, editing, closeEditor]);

  // Leaving the page (reload, closing the tab, another site) is questioned
  // by the open editor (Editor); once the page is really gone, so are the
  // drafts. The listener is there for as long as the page, so a leave right
  // after the first keystroke cannot keep a draft the user chose to drop.
  // Only the open editor's typing counts: a draft reported by an editor
  // as it closed (after a save) has nothing left to lose.
  const dirty = draft !== null && draft.key === editing;
  useEffect(() => {
    const gone = () => dropAllDrafts(user.id);
    window.addEventListener('pagehide', gone);
    return () => window.removeEventListener('pagehide', gone);
  }, [user.id]);

  // Links inside the app (the navigation, "see the licence") change the
  // page without unloading it: they are caught before the router sees them.
  useEffect(() => {
    if (!dirty) return;
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
      if (!(a instanceof HTMLAnchorElement) || a.target || a.origin !== window.location.origin) return;
      if (a.pathname === window.location.pathname && a.search === window.location.search) return; // a jump within the page
      e.preventDefault();
      e.stopPropagation();
      const to = a.pathname + a.search + a.hash;
      const key = draftRef.current?.key ?? '';
      setQuestion({
        title: 'Leave without saving?',
        body: <p>You have changed {key} and not saved it. Leaving this page discards your change.</p>,
        yes: 'Leave and discard',
        no: `Keep editing ${key}`,
        onYes: () => {
          dropAllDrafts(user.id);
          setDraft(null);
          navigate(to);
        },
        onNo: () => document.querySelector<HTMLElement>(`form[aria-label="Edit ${key}"] [id$="-input"]`)?.focus(),
      });
    };
    document.addEventListener('click', onClick, true);
    return () => document.removeEventListener('click', onClick, true);
  }, [dirty, user.id]);

  const openEditor = (key: string) => {
    setNotes((n) => (key in n ? Object.fromEntries(Object.entries(n).filter(([k]) => k !== key)) : n));
    if (editing === key) {
      closeEditor(key);
      return;
    }
    const current = draftRef.current;
    if (!current || current.key === key || current.key !== editing) {
      if (editing) closeEditor(editing);
      setEditing(key);
      return;
    }
    setQuestion({
      title: `Discard your change to ${current.key}?`,
      body: <p>You have changed {current.key} and not saved it. Editing {key} closes that editor and discards your change.</p>,
      yes: `Discard and edit ${key}`,
      no: `Keep editing ${current.key}`,
      onYes: () => {
        closeEditor(current.key);
        setEditing(key);
      },
      onNo: () => document.querySelector<HTMLElement>(`form[aria-label="Edit ${current.key}"] [id$="-input"]`)?.focus(),
    });
  };

  // ---- changes made elsewhere ----

  // Committed changes (another tab, another admin, another replica) arrive
  // on the event stream and the list reloads; an open editor keeps what is
  // typed and says what changed (see Editor).
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
  const note = (key: string, n: RowNote) => setNotes((all) => ({ ...all, [key]: n }));

  // ---- addresses: #key and the category index ----

  // Arriving at a key happens once per address: searching afterwards is
  // the reader's own business.
  const arrived = useRef('');

  useEffect(() => {
    const follow = () => {
      arrived.current = '';
      setTarget(decodeURIComponent(window.location.hash.slice(1)));
    };
    // Back and forward bring their own search and key.
    const back = () => {
      follow();
      setQuery(new URLSearchParams(window.location.search).get('q') ?? '');
    };
    follow();
    window.addEventListener('hashchange', follow);
    window.addEventListener('popstate', back);
    return () => {
      window.removeEventListener('hashchange', follow);
      window.removeEventListener('popstate', back);
    };
  }, []);
  const targetKnown = items.some((c) => c.key === target);
  useEffect(() => {
    if (!targetKnown || arrived.current === target) return;
    // A linked key is shown even when the search would hide it.
    if (!shown.some((c) => c.key === target)) {
      setCategory('');
      changeQuery('');
      return;
    }
    arrived.current = target;
    document.getElementById(target)?.scrollIntoView({ block: 'start' });
  }, [target, targetKnown, shown.length]);

  const removed = (prev: ConfigItem, next: ConfigItem | null) => {
    closeEditor(prev.key);
    if (!next) {
      list.set((list.data ?? []).filter((c) => c.key !== prev.key));
      setAnnounce(`Removed ${prev.key}.`);
      return;
    }
    replace(next);
    const from = next.source === 'environment' ? `its environment variable ${envName(next.key)}` : 'its default';
    const text = `Removed the stored value of ${prev.key}; it now comes from ${from}.`;
    if (prev.is_sensitive) {
      note(prev.key, { text });
      return;
    }
    // Undo puts the previous value back, only if nothing was stored since.
    const undo = async () => {
      try {
        const r = await request<ConfigUpdatedAnswer>(`/api/v1/config/${encodeURIComponent(prev.key)}`, {
          method: 'PUT',
          body: { value: prev.value },
          headers: { 'If-Match': '"v0"' },
        });
        replace(r.data.config);
        note(prev.key, { text: `Put back the stored value of ${prev.key}.` });
      } catch (err) {
        const why =
          err instanceof ApiError && err.status === 412 ? 'a value was stored again in the meantime, so nothing was changed.' : errorText(err);
        note(prev.key, { text: `Could not put back the stored value of ${prev.key}: ${why}` });
        list.reload();
      }
    };
    note(prev.key, { text, undo });
    window.setTimeout(() => setNotes((all) => (all[prev.key]?.undo === undo ? { ...all, [prev.key]: { text } } : all)), undoSeconds * 1000);
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
            placeholder="Key, description or category, e.g. smtp"
            value={query}
            onChange={(e) => changeQuery(e.target.value)}
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

      {groups.length > 1 && (
        <nav className="category-index" aria-label="Categories on this page">
          <ul>
            {groups.map(({ cat, rows }) => (
              <li key={cat}>
                <a href={`#cat-${cat}`}>
                  {human(cat)} <span className="count">{rows.length}</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}

      <p className="sr-only" aria-live="polite">
        {announce}
      </p>

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
              changeQuery('');
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
                  targeted={target === c.key}
                  editing={editing === c.key}
                  historyOpen={history === c.key}
                  note={notes[c.key]}
                  onEdit={() => openEditor(c.key)}
                  onHistory={() => setHistory(history === c.key ? null : c.key)}
                  editor={
                    <Editor
                      item={c}
                      limits={limitsOf(c, schema.data?.[c.key])}
                      me={user}
                      appName={appName}
                      restored={restored?.key === c.key ? restored : undefined}
                      onDraft={onDraft}
                      onChanged={replace}
                      onSaved={(next) => {
                        replace(next);
                        closeEditor(next.key);
                        note(next.key, { text: `Saved ${next.key}. The new value is in force.` });
                      }}
                      onRemoved={removed}
                      onCancel={() => closeEditor(c.key)}
                      ask={setQuestion}
                    />
                  }
                  onRestored={(next, version) => {
                    replace(next);
                    note(next.key, { text: `Restored ${next.key} to its value of version ${version}; it is now version ${next.version}.` });
                  }}
                />
              ))}
            </tbody>
          </table>
          {cat === 'email' && <EmailTest items={items} draft={draft} defaultTo={user.email} />}
        </section>
      ))}
      <ConfirmDialog question={question} onClose={() => setQuestion(null)} />
    </section>
  );
}

function rank(cat: string): number {
  const i = categoryOrder.indexOf(cat);
  return i < 0 ? categoryOrder.length : i;
}

interface RowProps {
  item: ConfigItem;
  targeted: boolean;
  editing: boolean;
  historyOpen: boolean;
  note?: RowNote;
  editor: ReactNode;
  onEdit(): void;
  onHistory(): void;
  onRestored(next: ConfigItem, version: number): void;
}

function SettingRows({ item, targeted, editing, historyOpen, note, editor, onEdit, onHistory, onRestored }: RowProps) {
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(editing);
  const [undoing, setUndoing] = useState(false);
  // Give focus back to the Edit button when the editor closes.
  useEffect(() => {
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  const classes = [editing ? 'is-editing' : '', targeted ? 'is-target' : ''].filter(Boolean).join(' ');
  return (
    <>
      <tr id={item.key} data-key={item.key} className={classes || undefined}>
        <td data-label="Setting" className="cell-key">
          <code className="key">{item.key}</code>
          <span className="desc">{item.description || 'No description.'}</span>
          <span className="meta">
            {item.type}
            {item.is_sensitive && ' · sensitive'}
            {item.rule && ` · ${item.rule}`}
          </span>
          {/* What happened at this row (saved, removed) is said here, where
              the eyes and the focus are; the region is always there so
              screen readers announce what appears in it. */}
          <div className="row-note" role="status" data-note-for={item.key}>
            {note && !editing && (
              <div className="msg msg-ok row-note-body">
                <span>{note.text}</span>
                {note.undo && (
                  <button
                    type="button"
                    className="btn btn-small"
                    disabled={undoing}
                    onClick={() => {
                      setUndoing(true);
                      void note.undo!().finally(() => setUndoing(false));
                    }}
                  >
                    {undoing ? 'Undoing…' : `Undo (${undoSeconds} seconds)`}
                  </button>
                )}
              </div>
            )}
          </div>
        </td>
        <td data-label="Value" className="cell-value">
          <ValueView item={item} />
        </td>
        <td data-label="Last updated" className="cell-updated">
          <Updated item={item} />
        </td>
        <td className="cell-actions">
          <button ref={editButton} type="button" className="btn btn-small" aria-expanded={editing} aria-label={`Edit ${item.key}`} onClick={onEdit}>
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
          <td colSpan={4}>{editor}</td>
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

function sourceBadge(item: ConfigItem): string {
  switch (item.source) {
    case 'database':
      return 'stored';
    case 'environment':
      return `from ${envName(item.key)}`;
    case 'default':
      return 'default';
  }
  return item.source;
}

function ValueView({ item }: { item: ConfigItem }) {
  const source = <span className={`badge badge-${item.source}`}>{sourceBadge(item)}</span>;
  let value;
  if (item.is_sensitive) {
    value = <span className="masked">{item.is_set ? '•••••••• hidden' : 'not set'}</span>;
  } else if (item.type === 'boolean') {
    const on = item.value === 'true';
    value = <span className={`pill ${on ? 'pill-on' : 'pill-off'}`}>{on ? 'On' : 'Off'}</span>;
  } else if (item.value === '') {
    value = <span className="muted">empty</span>;
  } else if (item.type === 'json') {
    // A long JSON value scrolls inside its box; keyboard users reach it too.
    value = (
      <code className="value-text value-json" tabIndex={0} role="region" aria-label={`Value of ${item.key}`}>
        {item.value}
      </code>
    );
  } else {
    value = <code className="value-text">{item.value}</code>;
  }
  return (
    <>
      <span className="value">
        {value} {source}
      </span>
      {item.env_differs && <span className="source-note">{sourceText(item)}</span>}
    </>
  );
}

function Updated({ item }: { item: ConfigItem }) {
  // Not stored is not "never changed": the history may list changes and a removal.
  if (!item.last_updated) return <span className="muted">No stored value</span>;
  return (
    <span>
      <time dateTime={item.last_updated} title={ago(item.last_updated)}>
        {localTime(item.last_updated)}
      </time>
      <span className="by">
        {item.source === 'environment' && item.updated_by === 'system' ? `copied from ${envName(item.key)}` : `by ${item.updated_by || 'unknown'}`}
      </span>
    </span>
  );
}
