// Small building blocks shared by the pages.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { errorText } from './api';
import { hasNavigated } from './router';

/** Page title that takes focus when the user moves to another page, so
 * keyboard and screen reader users land at the top of the new page. */
export function PageTitle({ children, lead }: { children: ReactNode; lead?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (hasNavigated()) ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <header className="page-head">
      <h1 tabIndex={-1} ref={ref}>
        {children}
      </h1>
      {lead && <p className="lead">{lead}</p>}
    </header>
  );
}

export function ErrorMessage({ children, id }: { children: ReactNode; id?: string }) {
  if (!children) return null;
  return (
    <p className="msg msg-error" role="alert" id={id}>
      {children}
    </p>
  );
}

export function Notice({ children, kind = 'info' }: { children: ReactNode; kind?: 'info' | 'ok' | 'warn' }) {
  if (!children) return null;
  return (
    <p className={`msg msg-${kind}`} role="status">
      {children}
    </p>
  );
}

export function Loading({ what, lines = 3 }: { what: string; lines?: number }) {
  return (
    <div className="loading" role="status" aria-label={`Loading ${what}`}>
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton" />
      ))}
    </div>
  );
}

export function Switch(props: {
  id?: string;
  checked: boolean;
  onChange(v: boolean): void;
  label: string;
  disabled?: boolean;
  describedBy?: string;
}) {
  return (
    <button
      type="button"
      role="switch"
      id={props.id}
      className="switch"
      aria-checked={props.checked}
      aria-label={props.label}
      aria-describedby={props.describedBy}
      disabled={props.disabled}
      onClick={() => props.onChange(!props.checked)}
    >
      <span className="switch-track" aria-hidden="true">
        <span className="switch-thumb" />
      </span>
      <span className="switch-text">{props.checked ? 'On' : 'Off'}</span>
    </button>
  );
}

/** Meter shows used of max as a bar; max < 0 means unlimited. */
export function Meter({ label, used, max }: { label: string; used: number; max: number }) {
  const unlimited = max < 0;
  const pct = unlimited || max === 0 ? 0 : Math.min(100, Math.round((used / max) * 100));
  const level = unlimited ? 'ok' : pct >= 100 ? 'full' : pct >= 80 ? 'high' : 'ok';
  const text = unlimited ? `${used} of unlimited` : `${used} of ${max}`;
  return (
    <div className="meter">
      <div className="meter-label">
        <span>{label}</span>
        <span className="meter-value">{text}</span>
      </div>
      <div
        className={`meter-bar meter-${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={unlimited ? undefined : max}
        aria-valuenow={used}
        aria-valuetext={text}
      >
        <span style={{ width: unlimited ? '100%' : `${pct}%` }} className={unlimited ? 'meter-unlimited' : undefined} />
      </div>
    </div>
  );
}

export interface Async<T> {
  data: T | undefined;
  error: string;
  status: number;
  loading: boolean;
  reload(): void;
  set(v: T): void;
}

/** useLoad runs load on mount (and on reload), cancelling stale runs. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[] = []): Async<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState('');
  const [status, setStatus] = useState(0);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    load(ctl.signal)
      .then((v) => {
        setData(v);
        setError('');
        setStatus(200);
      })
      .catch((err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(errorText(err));
        setStatus(typeof err === 'object' && err && 'status' in err ? Number((err as { status: number }).status) : 0);
      })
      .finally(() => {
        if (!ctl.signal.aborted) setLoading(false);
      });
    return () => ctl.abort();
  }, [tick, ...deps]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, status, loading, reload, set: setData };
}

/** Detail keeps technical text (an error chain) one click behind the
 * sentence a person reads. The text wraps, so it never needs scrolling. */
export function Detail({ children, label = 'Technical detail' }: { children: ReactNode; label?: string }) {
  if (!children) return null;
  return (
    <details className="detail">
      <summary>{label}</summary>
      <code className="detail-text">{children}</code>
    </details>
  );
}
