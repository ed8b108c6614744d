import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, errorFrom, errorText, get, send, type ResetLink } from '../api';
import { localTime } from '../format';
import { PasswordRules, passwordProblem } from '../password';
import { Link, navigate, useSearchParam } from '../router';
import { useSession } from '../session';
import { ErrorMessage, Loading } from '../ui';

const invalidLink = 'This link is not valid: it was already used, has expired, or was never issued.';

/** ResetPage sets a password through an emailed link: a reset link, or an
 * invitation to choose the first one. */
export function ResetPage() {
  const token = useSearchParam('token') ?? '';
  const [link, setLink] = useState<ResetLink>();
  const [linkError, setLinkError] = useState('');

  useEffect(() => {
    document.title = 'Choose a password · rookery';
  }, []);

  // Looking at the link does not use it up; only setting the password does.
  useEffect(() => {
    setLink(undefined);
    setLinkError('');
    if (!token) {
      setLinkError(invalidLink);
      return;
    }
    const ctl = new AbortController();
    get<ResetLink>(`/api/v1/auth/password/reset?token=${encodeURIComponent(token)}`, ctl.signal)
      .then(setLink)
      .catch((err) => {
        if (!ctl.signal.aborted) setLinkError(errorText(err));
      });
    return () => ctl.abort();
  }, [token]);

  return (
    <main className="login" id="main">
      <div className="panel login-form">
        {linkError ? (
          <InvalidLink error={linkError} />
        ) : !link ? (
          <>
            <h1>Choose a password</h1>
            <Loading what="the link" lines={2} />
          </>
        ) : (
          <ChoosePassword token={token} link={link} onInvalid={setLinkError} />
        )}
      </div>
    </main>
  );
}

function InvalidLink({ error }: { error: string }) {
  return (
    <>
      <h1>This link cannot be used</h1>
      <ErrorMessage>{error}</ErrorMessage>
      <p>
        A password link works once, for one hour; an invitation works once, for 72 hours. <Link to="/forgot">Ask for a new link</Link>,
        or ask an administrator to send the invitation again.
      </p>
      <p className="login-forgot">
        <Link to="/login">Back to sign in</Link>
      </p>
    </>
  );
}

function ChoosePassword({ token, link, onInvalid }: { token: string; link: ResetLink; onInvalid(msg: string): void }) {
  const { recheck, tell } = useSession();
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);
  const repeatRef = useRef<HTMLInputElement>(null);
  const invitation = link.kind === 'invitation';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = passwordProblem(password);
    if (problem) {
      setError(problem);
      passwordRef.current?.focus();
      return;
    }
    if (password !== repeat) {
      setError('The two passwords differ: type the same password in both fields.');
      repeatRef.current?.focus();
      return;
    }
    setError('');
    setBusy(true);
    try {
      const res = await send('/api/v1/auth/password/reset', { method: 'POST', body: { token, password } });
      if (!res.ok) throw await errorFrom(res);
    } catch (err) {
      setBusy(false);
      // A refused password can be corrected; a link used up or expired
      // meanwhile cannot, so ask the server which one it was.
      try {
        await get<ResetLink>(`/api/v1/auth/password/reset?token=${encodeURIComponent(token)}`);
      } catch (linkErr) {
        if (linkErr instanceof ApiError && linkErr.status === 400) {
          onInvalid(errorText(linkErr));
          return;
        }
      }
      setError(errorText(err));
      passwordRef.current?.focus();
      return;
    }
    // The server ended every session of the account; find out whether
    // this browser's was one of them before showing the sign-in page.
    await recheck();
    tell(`Your password is set. Sign in as ${link.email} with it.`);
    navigate('/login', { replace: true });
  };

  return (
    <form onSubmit={submit} aria-labelledby="reset-title" noValidate>
      <h1 id="reset-title">
        {invitation ? 'Welcome — choose a password for ' : 'Choose a new password for '}
        <span className="reset-email">{link.email}</span>
      </h1>
      <p className="sub">This link works until {localTime(link.expires_at)}.</p>
      <PasswordRules id="reset-rules" />
      <label htmlFor="reset-password">{invitation ? 'Password' : 'New password'}</label>
      <input
        id="reset-password"
        ref={passwordRef}
        type="password"
        autoComplete="new-password"
        autoFocus
        aria-describedby={error ? 'reset-error reset-rules' : 'reset-rules'}
        aria-invalid={error ? true : undefined}
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <label htmlFor="reset-repeat">Repeat the password</label>
      <input
        id="reset-repeat"
        ref={repeatRef}
        type="password"
        autoComplete="new-password"
        value={repeat}
        onChange={(e) => setRepeat(e.target.value)}
      />
      {/* A hidden username lets password managers save the new password
          under the right account. */}
      <input type="email" autoComplete="username" value={link.email} readOnly hidden />
      <div className="msg-slot">
        <ErrorMessage id="reset-error">{error}</ErrorMessage>
      </div>
      <button className="btn btn-primary" type="submit" disabled={busy || !password || !repeat}>
        {busy ? 'Setting the password…' : 'Set password'}
      </button>
    </form>
  );
}
