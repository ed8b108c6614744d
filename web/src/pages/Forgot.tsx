import { useEffect, useRef, useState, type FormEvent } from 'react';
import { errorFrom, errorText, send } from '../api';
import { Link } from '../router';
import { ErrorMessage, Notice } from '../ui';

// The server answers the same for every address, so the page can only say
// what it knows: the request was taken, and a link went out if the account
// exists.
const accepted = 'If an account exists for that address, we sent a link to it. The link works for one hour.';

export function ForgotPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');
  const emailRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Forgot password · rookery';
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    setDone('');
    const address = email.trim();
    if (!/^[^\s@]+@[^\s@]+$/.test(address)) {
      setError('Enter the email address of your account, such as name@example.com.');
      emailRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const res = await send('/api/v1/auth/password/forgot', { method: 'POST', body: { email: address } });
      if (!res.ok) throw await errorFrom(res);
      setDone(accepted);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
      emailRef.current?.focus();
    }
  };

  return (
    <main className="login" id="main">
      <form className="panel login-form" onSubmit={submit} aria-labelledby="forgot-title" noValidate>
        <h1 id="forgot-title">Forgot your password?</h1>
        <p>Enter the email address you sign in with. We email you a link to choose a new password.</p>
        <label htmlFor="forgot-email">Email</label>
        <input
          id="forgot-email"
          ref={emailRef}
          type="email"
          autoComplete="username"
          autoFocus
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'forgot-error' : undefined}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <div className="msg-slot" aria-live="polite">
          <ErrorMessage id="forgot-error">{error}</ErrorMessage>
          {done && <Notice kind="ok">{done}</Notice>}
        </div>
        <button className="btn btn-primary" type="submit" disabled={busy || !email.trim()}>
          {busy ? 'Sending…' : 'Send link'}
        </button>
        <p className="login-forgot">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </main>
  );
}
