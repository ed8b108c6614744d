import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, errorText, get, sentence, type Provider, type Providers } from '../api';
import { Link, openPaths, useSearchParam } from '../router';
import { useSession } from '../session';
import { ErrorMessage, Notice } from '../ui';

// Until the server says otherwise, offer the password form: it is what
// every installation has, and the form must not wait for the list.
const passwordOnly: Providers = { password: true, oidc: null, saml: null };

/** nextPath is where single sign-on returns to: the page the user asked
 * for when the sign-in page took its place, or the start page. */
function nextPath(): string {
  const { pathname, search } = window.location;
  if (pathname === '/' || pathname === '/login' || openPaths.includes(pathname)) return '/';
  return pathname + search;
}

/** ssoHref adds next to a provider's login address. */
function ssoHref(p: Provider): string {
  const sep = p.login_url.includes('?') ? '&' : '?';
  return `${p.login_url}${sep}next=${encodeURIComponent(nextPath())}`;
}

export function LoginPage({ notice }: { notice: string }) {
  const { signIn } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [providers, setProviders] = useState<Providers>(passwordOnly);
  const [providersError, setProvidersError] = useState('');
  const ssoError = useSearchParam('sso_error');
  const passwordRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const ctl = new AbortController();
    get<Providers>('/api/v1/auth/providers', ctl.signal)
      .then((p) => setProviders({ password: p.password !== false, oidc: p.oidc ?? null, saml: p.saml ?? null }))
      .catch((err) => {
        if (ctl.signal.aborted) return;
        // A server without the list (404) has password sign-in only.
        if (!(err instanceof ApiError && err.status === 404)) {
          setProvidersError(`The sign-in methods could not be loaded: ${errorText(err)}`);
        }
      });
    return () => ctl.abort();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await signIn(email.trim(), password);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
      // The button that was pressed is disabled while busy, which drops
      // focus to the page: put it back on the field to correct, which
      // names the error through aria-describedby.
      passwordRef.current?.focus();
      passwordRef.current?.select();
    }
  };

  const sso = [providers.oidc, providers.saml].filter((p): p is Provider => p !== null);

  return (
    <main className="login" id="main">
      <div className="panel login-form">
        <h1 id="login-title">Sign in to rookery</h1>
        <Notice>{notice}</Notice>
        {ssoError && <ErrorMessage>Single sign-on did not sign you in: {sentence(ssoError)}</ErrorMessage>}
        <ErrorMessage>{providersError}</ErrorMessage>
        {sso.length > 0 && (
          <ul className="sso-list" aria-label="Single sign-on">
            {sso.map((p) => (
              <li key={p.login_url}>
                <a className="btn btn-sso" href={ssoHref(p)}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        )}
        {providers.password ? (
          <form onSubmit={submit} aria-labelledby="login-title" noValidate>
            {sso.length > 0 && <p className="login-or">or with your email and password</p>}
            <label htmlFor="email">Email</label>
            <input
              id="email"
              type="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
            <label htmlFor="password">Password</label>
            <input
              id="password"
              ref={passwordRef}
              type="password"
              autoComplete="current-password"
              required
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? 'login-error' : undefined}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <div className="msg-slot">
              <ErrorMessage id="login-error">{error}</ErrorMessage>
            </div>
            <button className="btn btn-primary" type="submit" disabled={busy || !email || !password}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
            <p className="login-forgot">
              <Link to="/forgot">Forgot password?</Link>
            </p>
          </form>
        ) : (
          <p className="login-sso-only">
            {sso.length > 0
              ? 'Sign-in with a password is turned off here: use single sign-on above.'
              : (
                <>
                  Sign-in with a password is turned off and no single sign-on is set up. An administrator can turn password sign-in
                  back on from the server's command line: <code>rookery config set local_login_enabled true</code>.
                </>
              )}
          </p>
        )}
      </div>
    </main>
  );
}
