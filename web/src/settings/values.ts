// What the settings editors know about values: the checks run on every
// keystroke, the server's refusals turned into sentences, and the drafts
// that keep unsaved typing across a sign-in.
import type { ConfigConstraints, ConfigItem } from '../api';
import { checkJSON } from './json';

/** KeySchema is one key's entry in GET /api/v1/config/schema (JSON Schema
 * 2020-12): the editors read their limits from it when the config item
 * carries no constraints. */
export interface KeySchema {
  minimum?: number;
  maximum?: number;
  enum?: (string | null)[];
  format?: string;
}

/** limitsOf merges a key's constraints (preferred) and its schema entry. */
export function limitsOf(item: ConfigItem, schema?: KeySchema): ConfigConstraints {
  const c = item.constraints;
  const fromSchema = schema?.enum?.filter((v): v is string => typeof v === 'string');
  return {
    min: c?.min ?? schema?.minimum,
    max: c?.max ?? schema?.maximum,
    choices: c?.choices ?? (fromSchema && fromSchema.length > 0 ? fromSchema : undefined),
    pattern: c?.pattern,
    format: c?.format ?? schema?.format,
    schemes: c?.schemes,
    optional: c?.optional,
  };
}

/** localProblem says what is wrong with typed text before it is sent, or
 * '' when only the server can tell. It runs on every keystroke, so what it
 * says is always about the text in the field. */
export function localProblem(item: ConfigItem, text: string, limits: ConfigConstraints): string {
  const t = text.trim();
  switch (item.type) {
    case 'boolean':
      return '';
    case 'json': {
      if (t === '') return 'Enter a JSON value, for example {} or [].';
      const e = checkJSON(text);
      return e ? `This is not valid JSON at line ${e.line}, column ${e.column}: ${e.message}` : '';
    }
    case 'integer': {
      if (t === '') return 'Enter a whole number.';
      if (!/^-?\d+$/.test(t)) return 'Enter a whole number using digits only, such as 25.';
      const n = Number(t);
      const { min, max } = limits;
      if (min !== undefined && max !== undefined && (n < min || n > max)) return `Enter a number from ${min} to ${max}.`;
      if (min !== undefined && n < min) return `Enter a number of at least ${min}.`;
      if (max !== undefined && n > max) return `Enter a number of at most ${max}.`;
      return '';
    }
  }
  if (item.is_sensitive) return '';
  if (limits.choices && !limits.choices.includes(text)) return `Choose one of: ${limits.choices.map((c) => c || '(empty)').join(', ')}.`;
  if (t === '') {
    // A rule with a form to follow accepts the empty value only when it says so.
    return (limits.format || limits.pattern) && !limits.optional ? 'Enter a value: this setting cannot be empty.' : '';
  }
  const f = formatProblem(limits, t);
  if (f) return f;
  if (limits.pattern) {
    try {
      if (!new RegExp(limits.pattern, 'u').test(text)) return item.rule ? `This does not fit: it must be ${item.rule}.` : 'This does not have the required form.';
    } catch {
      // A pattern the browser cannot read (Go syntax): the server checks it.
    }
  }
  return '';
}

// Quick checks of the common formats, so a slip shows while typing; the
// server's rules decide.
function formatProblem(limits: ConfigConstraints, t: string): string {
  switch (limits.format) {
    case 'url': {
      const starts = (limits.schemes ?? ['https', 'http']).map((s) => s + '://').join(' or ');
      let u: URL;
      try {
        u = new URL(t);
      } catch {
        return `Enter a full address starting with ${starts}.`;
      }
      const scheme = u.protocol.replace(/:$/, '');
      if (limits.schemes && !limits.schemes.includes(scheme)) return `Enter an address starting with ${starts}.`;
      return '';
    }
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t) ? '' : 'Enter an email address, such as ops@example.com.';
    case 'hostname':
      return /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(t) ? '' : 'Enter a host name such as smtp.example.com, without a scheme or port.';
  }
  return '';
}

/** Refusal is a server's reason as a sentence, with the server's own text
 * kept for a disclosure when the sentence left part of it out. */
export interface Refusal {
  message: string;
  detail: string;
}

// Wrapping prefixes of error chains ("parse extras: parse MarchProxy file: ")
// and the summary before a list of problems: context for a log, not for
// the person who typed the value.
const chainPrefix = /^(?:(?:parse|read|decode|load|open|validate|check|unmarshal)\b[^:;"]*|invalid [^:;"]*?(?: \(\d+ problems\))?): /i;

/** refusal turns a 400's reason for key into a sentence about the save. */
export function refusal(key: string, reason: string): Refusal {
  let core = reason.trim();
  while (chainPrefix.test(core)) core = core.replace(chainPrefix, '');
  const end = /[.!?]$/.test(core) ? '' : '.';
  // A predicate ("must be a port ...") reads as a sentence with the key.
  const message = /^(must|is|are|has|have|should|cannot|can't|needs?|does|not)\b/.test(core)
    ? `Not saved: ${key} ${core}${end}`
    : `Not saved: ${core}${end}`;
  return { message, detail: core === reason.trim() ? '' : reason.trim() };
}

// ---- drafts ----

/** Draft is what is typed in an editor and not saved yet. */
export interface Draft {
  key: string;
  text: string;
  bool: boolean;
  /** The version the edit started from (sent as If-Match). */
  base: number;
}

// Drafts live in sessionStorage (this tab only, gone with it) under the
// signed-in user's id: when a session ends mid-edit the page goes to the
// sign-in form, and after signing in again as the same person the editor
// opens with what was typed. Another account never sees them.
const draftsKey = (user: number) => `rookery.settings.drafts.${user}`;

export function loadDrafts(user: number): Record<string, Draft> {
  try {
    const raw = sessionStorage.getItem(draftsKey(user));
    const parsed: unknown = raw ? JSON.parse(raw) : {};
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, Draft>) : {};
  } catch {
    return {};
  }
}

/** saveDraft keeps d; typed secrets are never written to storage. */
export function saveDraft(user: number, d: Draft): void {
  const all = loadDrafts(user);
  all[d.key] = d;
  try {
    sessionStorage.setItem(draftsKey(user), JSON.stringify(all));
  } catch {
    // Storage full or refused: the draft lives only in the page.
  }
}

export function dropDraft(user: number, key: string): void {
  const all = loadDrafts(user);
  if (!(key in all)) return;
  delete all[key];
  try {
    sessionStorage.setItem(draftsKey(user), JSON.stringify(all));
  } catch {
    // nothing to do
  }
}

export function dropAllDrafts(user: number): void {
  try {
    sessionStorage.removeItem(draftsKey(user));
  } catch {
    // nothing to do
  }
}
