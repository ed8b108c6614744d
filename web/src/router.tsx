// A router small enough to read in one go: the path lives in the browser's
// history, links push to it, and components re-render on change.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const NAVIGATE = 'rookery:navigate';

// Whether the user has moved between pages inside the app since it
// loaded; a fresh load leaves focus where the browser puts it.
let moved = false;

/** hasNavigated is true once a page change happened inside the app. */
export function hasNavigated(): boolean {
  return moved;
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => {
    moved = true;
  });
}

function subscribe(fn: () => void): () => void {
  window.addEventListener('popstate', fn);
  window.addEventListener(NAVIGATE, fn);
  return () => {
    window.removeEventListener('popstate', fn);
    window.removeEventListener(NAVIGATE, fn);
  };
}

const currentPath = () => window.location.pathname;

export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath);
}

const currentSearch = () => window.location.search;

/** useSearchParam is one query parameter of the address, kept current. */
export function useSearchParam(name: string): string | null {
  const search = useSyncExternalStore(subscribe, currentSearch);
  return new URLSearchParams(search).get(name);
}

/** Pages anyone can open, signed in or not: asking for a password link
 * and using one. */
export const openPaths = ['/forgot', '/reset'];

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (opts.replace) {
    window.history.replaceState(null, '', to);
  } else {
    window.history.pushState(null, '', to);
    moved = true;
  }
  window.dispatchEvent(new Event(NAVIGATE));
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

export function Link({ to, onClick, ...rest }: LinkProps) {
  const path = usePath();
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    // Let the browser handle new tabs and windows.
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} aria-current={path === to ? 'page' : undefined} onClick={handle} {...rest} />;
}
