// Who is signed in. The session itself is the server's HttpOnly cookie;
// this only remembers what GET /api/v1/auth/me said about it.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, get, onUnauthorized, request, type LoginAnswer, type Me, type Role } from './api';

export interface Session {
  /** undefined while the first check runs; null when signed out. */
  me: Me['user'] | null | undefined;
  /** Why the user was signed out, when it was not their choice. */
  notice: string;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** tell sets the notice the sign-in page shows next (e.g. after a
   * password was set through an emailed link). */
  tell(notice: string): void;
  /** recheck asks the server again who is signed in: setting a password
   * through a link ends that account's sessions, maybe this one. */
  recheck(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Session['me']>(undefined);
  const [notice, setNotice] = useState('');
  const meRef = useRef(me);
  meRef.current = me;

  useEffect(() => {
    const ctl = new AbortController();
    get<Me>('/api/v1/auth/me', ctl.signal)
      .then((r) => setMe(r.user))
      .catch((err) => {
        if (err instanceof DOMException && err.name === 'AbortError') return;
        setMe(null);
        if (!(err instanceof ApiError) || err.status !== 401) setNotice(err instanceof Error ? err.message : '');
      });
    return () => ctl.abort();
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        if (meRef.current) setNotice('Your session has ended. Sign in again to continue.');
        setMe(null);
      }),
    [],
  );

  const signIn = useCallback(async (email: string, password: string) => {
    const r = await request<LoginAnswer>('/api/v1/auth/login', { method: 'POST', body: { email, password } });
    setNotice('');
    setMe({ id: r.data.user.id, email: r.data.user.email, role: r.data.user.role });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await request('/api/v1/auth/logout', { method: 'POST' });
    } catch (err) {
      // A session that has already ended is as good as signed out.
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
    }
    setNotice('You are signed out.');
    setMe(null);
  }, []);

  const recheck = useCallback(async () => {
    try {
      const r = await get<Me>('/api/v1/auth/me');
      setMe(r.user);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setMe(null);
    }
  }, []);

  const value = useMemo(() => ({ me, notice, signIn, signOut, tell: setNotice, recheck }), [me, notice, signIn, signOut, recheck]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export const isAdmin = (role: Role | undefined) => role === 'admin';
