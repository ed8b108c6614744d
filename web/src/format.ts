// Formatting shared by the pages: local times, relative ages, numbers.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** localTime shows an API timestamp in the reader's time zone. */
export function localTime(iso: string | null | undefined, none = '—'): string {
  const d = parse(iso);
  return d ? dateTime.format(d) : none;
}

export function localDate(iso: string | null | undefined, none = '—'): string {
  const d = parse(iso);
  return d ? dateOnly.format(d) : none;
}

/** ago says how long ago a time was, in words ("3 minutes ago"). */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  const d = parse(iso);
  if (!d) return 'never';
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return 'just now';
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'a minute ago' : `${m} minutes ago`;
  const h = Math.round(m / 60);
  if (h < 36) return h === 1 ? 'an hour ago' : `${h} hours ago`;
  const days = Math.round(h / 24);
  return days === 1 ? 'a day ago' : `${days} days ago`;
}

/** daysUntil is the whole days from now to iso (negative when past). */
export function daysUntil(iso: string | null | undefined, now = Date.now()): number | null {
  const d = parse(iso);
  return d ? Math.floor((d.getTime() - now) / 86_400_000) : null;
}

const num = new Intl.NumberFormat();
export const count = (n: number) => num.format(n);

/** human turns an identifier into words: "max_users" -> "Max users". */
const acronyms: Record<string, string> = { ai: 'AI', api: 'API', sso: 'SSO', saml: 'SAML', url: 'URL', id: 'ID', smtp: 'SMTP', json: 'JSON' };

export function human(id: string): string {
  const words = id
    .replace(/^[a-z]+\./, '')
    .split(/[_\s]+/)
    .filter(Boolean)
    .map((w) => acronyms[w.toLowerCase()] ?? w.toLowerCase());
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
