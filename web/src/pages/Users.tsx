import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent, type RefObject } from 'react';
import {
  errorFrom,
  errorText,
  get,
  request,
  send,
  type ConfigItem,
  type CreatedUser,
  type LicenseView,
  type MessageAnswer,
  type Role,
  type SignInMethod,
  type User,
  type UserAnswer,
  type UsersAnswer,
} from '../api';
import { ago, human, localDate, localTime } from '../format';
import { PasswordRules, passwordProblem } from '../password';
import { Link } from '../router';
import { isAdmin, useSession } from '../session';
import { ErrorMessage, Loading, Meter, Notice, PageTitle, useLoad } from '../ui';

const roles: { id: Role; text: string }[] = [
  { id: 'viewer', text: 'reads the licence and its usage and uses the AI features the licence includes' },
  {
    id: 'maintainer',
    text: 'does what a viewer does and may also use the maintenance actions an application built on rookery keeps for maintainers',
  },
  { id: 'admin', text: 'can do everything, including settings, integrations and users' },
];

const roleText = (r: Role) => roles.find((x) => x.id === r)?.text ?? '';
const article = (r: Role) => (r === 'admin' ? 'An' : 'A');

const methods: Record<SignInMethod, string> = { password: 'Password', oidc: 'OIDC', saml: 'SAML' };

export function UsersPage() {
  const { me } = useSession();
  return isAdmin(me?.role) ? <AdminUsers /> : <OwnAccount />;
}

// ---- administrators: every user ----

function AdminUsers() {
  const users = useLoad((signal) => get<UsersAnswer>('/api/v1/users', signal).then((r) => r.users));
  const lic = useLoad((signal) => get<LicenseView>('/api/v1/license', signal));
  // Invitations and reset links are emails: say up front when no SMTP
  // server is set, so "queued" is not read as "delivered".
  const smtp = useLoad((signal) => get<ConfigItem>('/api/v1/config/smtp_host', signal));
  const noEmail = smtp.data !== undefined && !smtp.data.value;
  const [flash, setFlash] = useState('');
  const countRef = useRef<HTMLHeadingElement>(null);

  const changed = (u: User, what: string) => {
    if (users.data) users.set(users.data.map((x) => (x.id === u.id ? u : x)));
    setFlash(what);
  };
  const removed = (u: User) => {
    if (users.data) users.set(users.data.filter((x) => x.id !== u.id));
    lic.reload();
    setFlash(`Deleted ${u.email}.`);
    // The row and its buttons are gone: land on the list's heading, just above.
    countRef.current?.focus();
  };

  const usage = lic.data?.usage;
  const max = usage?.max_users ?? -1;
  const count = users.data?.length ?? usage?.users ?? 0;
  const full = max >= 0 && count >= max;

  return (
    <section className="page">
      <PageTitle lead="Who can sign in, how, and with which role.">Users</PageTitle>

      {lic.data && (
        <div className="panel">
          <Meter label={`Users allowed by the ${human(lic.data.license.tier || 'current').toLowerCase()} licence`} used={count} max={max} />
          {full && <Notice kind="warn">The licence's user limit is reached: remove a user or upgrade the licence to add another.</Notice>}
        </div>
      )}

      {noEmail && (
        <Notice kind="warn">
          Email is not set up (no SMTP server), so invitations and password reset links wait in the outbox until it is.{' '}
          <Link to="/settings?q=smtp">Set up email</Link>
        </Notice>
      )}

      {users.loading && !users.data && <Loading what="users" lines={4} />}
      <ErrorMessage>{users.error}</ErrorMessage>
      {users.data && (
        <div className="panel">
          <h2 id="users-count" tabIndex={-1} ref={countRef}>
            {users.data.length === 1 ? '1 user' : `${users.data.length} users`}
          </h2>
          <div className="msg-slot" aria-live="polite">
            {flash && <Notice kind="ok">{flash}</Notice>}
          </div>
          <table className="users-table" aria-labelledby="users-count">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Signs in with</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            {users.data.map((u) => (
              <UserRow key={u.id} user={u} onChanged={changed} onDeleted={removed} onNotice={setFlash} />
            ))}
          </table>
        </div>
      )}

      <CreateUser
        onCreated={(u, invited) => {
          if (users.data) users.set([...users.data, u]);
          lic.reload();
          setFlash(
            invited
              ? `Invited ${u.email} as ${u.role}: the invitation email is queued. It lets them choose a password within 72 hours.`
              : `Created ${u.email} as ${u.role}.`,
          );
        }}
      />
    </section>
  );
}

type Pending = { kind: 'role'; role: Role } | { kind: 'disable' } | { kind: 'delete' } | { kind: 'password' } | null;

function UserRow(props: {
  user: User;
  onChanged(u: User, what: string): void;
  onDeleted(u: User): void;
  onNotice(what: string): void;
}) {
  const { user } = props;
  const { me } = useSession();
  const id = useId();
  const [pending, setPending] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [password, setPassword] = useState('');
  const roleRef = useRef<HTMLSelectElement>(null);
  const disableRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const passwordRef = useRef<HTMLButtonElement>(null);
  const self = me?.id === user.id;
  const local = user.sign_in_method === 'password';
  const confirmText = `${id}-confirm`;

  // Focus goes back to the control that opened a step once it is over,
  // after the row has re-rendered (Disable turns into Enable).
  const [focusBack, setFocusBack] = useState<RefObject<HTMLElement | null> | null>(null);
  useEffect(() => {
    if (!focusBack) return;
    focusBack.current?.focus();
    setFocusBack(null);
  }, [focusBack]);

  const controlOf = (p: Pending): RefObject<HTMLElement | null> =>
    p?.kind === 'role' ? roleRef : p?.kind === 'delete' ? deleteRef : p?.kind === 'password' ? passwordRef : disableRef;

  const close = (p: Pending = pending) => {
    setPending(null);
    setPassword('');
    setFocusBack(controlOf(p));
  };

  const cancel = () => {
    setError('');
    close();
  };

  // A request for this row. Buttons stay enabled while it runs (a disabled
  // button drops focus to the page); busy only ignores repeated presses.
  const run = async (call: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    setError('');
    try {
      await call();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const patch = (body: { role?: Role; password?: string; disabled?: boolean }, what: (u: User) => string) =>
    run(async () => {
      const r = await request<UserAnswer>(`/api/v1/users/${user.id}`, { method: 'PATCH', body });
      const p = pending;
      props.onChanged(r.data.user, what(r.data.user));
      close(p);
    });

  const queue = (path: string, what: string) =>
    run(async () => {
      const res = await send(`/api/v1/users/${user.id}/${path}`, { method: 'POST' });
      if (!res.ok) throw await errorFrom(res);
      props.onNotice(what);
    });

  const remove = () =>
    run(async () => {
      await request(`/api/v1/users/${user.id}`, { method: 'DELETE' });
      props.onDeleted(user);
    });

  const escape = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && pending) {
      e.preventDefault();
      cancel();
    }
  };

  const setPasswordNow = (e: FormEvent) => {
    e.preventDefault();
    const problem = passwordProblem(password);
    if (problem) {
      setError(problem);
      return;
    }
    void patch({ password }, (u) => `Set a new password for ${u.email}.`);
  };

  // The select shows the role being asked about; nothing is saved until
  // the confirm button is pressed.
  const shownRole = pending?.kind === 'role' ? pending.role : user.role;

  return (
    <tbody className="user-group" data-email={user.email} onKeyDown={escape}>
      <tr>
        <td className="cell-user" data-label="User">
          <span className="user-email">{user.email}</span>
          {self && <span className="sub-inline"> (you)</span>}
          {user.invited && <span className="badge badge-invited">invited</span>}
          {user.disabled && <span className="badge badge-disabled">disabled</span>}
          <span className="sub">since {localDate(user.created_at)}</span>
        </td>
        <td data-label="Role">
          <label htmlFor={`${id}-role`} className="sr-only">
            Role of {user.email}
          </label>
          <select
            id={`${id}-role`}
            ref={roleRef}
            value={shownRole}
            disabled={self}
            aria-describedby={self ? `${id}-self` : pending?.kind === 'role' ? confirmText : undefined}
            onChange={(e) => {
              const role = e.target.value as Role;
              setError('');
              setPending(role === user.role ? null : { kind: 'role', role });
            }}
          >
            {roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.id}
              </option>
            ))}
          </select>
          {self && (
            <span className="sub" id={`${id}-self`}>
              Another admin can change your role.
            </span>
          )}
        </td>
        <td data-label="Signs in with">
          {methods[user.sign_in_method] ?? user.sign_in_method}
          {user.invited && <span className="sub">not chosen yet</span>}
        </td>
        <td data-label="Last sign-in">
          {user.last_sign_in_at ? (
            <time dateTime={user.last_sign_in_at} title={localTime(user.last_sign_in_at)}>
              {ago(user.last_sign_in_at)}
            </time>
          ) : (
            'Never'
          )}
        </td>
        <td className="cell-actions" data-label="Actions">
          {user.invited && (
            <button
              type="button"
              className="btn btn-small"
              onClick={() => void queue('invitation', `A new invitation for ${user.email} is queued for sending.`)}
            >
              Resend invitation
            </button>
          )}
          {local && !user.invited && !user.disabled && !self && (
            <button
              type="button"
              className="btn btn-small"
              onClick={() => void queue('password-reset', `A password reset link for ${user.email} is queued for sending.`)}
            >
              Send password reset
            </button>
          )}
          {local && (
            <button
              type="button"
              ref={passwordRef}
              className="btn btn-small btn-quiet"
              aria-expanded={pending?.kind === 'password'}
              onClick={() => {
                setError('');
                setPending(pending?.kind === 'password' ? null : { kind: 'password' });
              }}
            >
              Set password
            </button>
          )}
          {!self &&
            (user.disabled ? (
              <button
                type="button"
                ref={disableRef}
                className="btn btn-small btn-quiet"
                onClick={() => void patch({ disabled: false }, (u) => `${u.email} is enabled again and can sign in.`)}
              >
                Enable
              </button>
            ) : (
              <button
                type="button"
                ref={disableRef}
                className="btn btn-small btn-quiet"
                aria-expanded={pending?.kind === 'disable'}
                onClick={() => {
                  setError('');
                  setPending({ kind: 'disable' });
                }}
              >
                Disable
              </button>
            ))}
          {!self && (
            <button
              type="button"
              ref={deleteRef}
              className="btn btn-small btn-quiet btn-danger"
              aria-expanded={pending?.kind === 'delete'}
              onClick={() => {
                setError('');
                setPending({ kind: 'delete' });
              }}
            >
              Delete
            </button>
          )}
        </td>
      </tr>
      {pending && (
        <tr className="row-extra">
          <td colSpan={5}>
            {pending.kind === 'password' ? (
              <form className="reset" onSubmit={setPasswordNow} aria-label={`Set the password of ${user.email}`} noValidate>
                <label htmlFor={`${id}-pw`}>New password for {user.email}</label>
                <PasswordRules id={`${id}-pw-rules`} />
                <div className="editor-input">
                  <input
                    id={`${id}-pw`}
                    type="password"
                    autoComplete="new-password"
                    aria-describedby={`${id}-pw-rules`}
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                    autoFocus
                  />
                  <button className="btn btn-primary btn-small" type="submit" disabled={!password}>
                    Save password
                  </button>
                  <button className="btn btn-small" type="button" onClick={cancel}>
                    Cancel
                  </button>
                </div>
              </form>
            ) : (
              <div className="confirm" role="group" aria-labelledby={confirmText}>
                <p id={confirmText}>
                  <ConfirmText user={user} pending={pending} />
                </p>
                <div className="actions">
                  <button
                    type="button"
                    className={pending.kind === 'role' ? 'btn btn-primary btn-small' : 'btn btn-small btn-danger-solid'}
                    onClick={() => {
                      if (pending.kind === 'role') void patch({ role: pending.role }, (u) => `${u.email} is now ${u.role}.`);
                      else if (pending.kind === 'disable')
                        void patch({ disabled: true }, (u) => `${u.email} is disabled: their sessions ended and they cannot sign in.`);
                      else void remove();
                    }}
                  >
                    {pending.kind === 'role' ? 'Change role' : pending.kind === 'disable' ? 'Disable account' : 'Delete user'}
                  </button>
                  <button type="button" className="btn btn-small" onClick={cancel}>
                    Cancel
                  </button>
                </div>
              </div>
            )}
          </td>
        </tr>
      )}
      {error && (
        <tr className="row-extra">
          <td colSpan={5}>
            <ErrorMessage>{error}</ErrorMessage>
          </td>
        </tr>
      )}
    </tbody>
  );
}

function ConfirmText({ user, pending }: { user: User; pending: Exclude<Pending, null> }) {
  const who = <strong>{user.email}</strong>;
  switch (pending.kind) {
    case 'role':
      return (
        <>
          Change the role of {who} from <strong>{user.role}</strong> to <strong>{pending.role}</strong>? {article(pending.role)}{' '}
          {pending.role} {roleText(pending.role)}.
        </>
      );
    case 'disable':
      return (
        <>
          Disable {who}? Their sessions and API keys stop working at once, and they cannot sign in until an admin enables the account
          again.
        </>
      );
    default:
      return <>Delete {who}? Their sessions, API keys and team memberships go with the account. This cannot be undone.</>;
  }
}

function CreateUser({ onCreated }: { onCreated(u: User, invited: boolean): void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password) {
      const problem = passwordProblem(password);
      if (problem) {
        setError(problem);
        return;
      }
    }
    setBusy(true);
    setError('');
    try {
      // Without a password the server invites the user by email.
      const body = password ? { email: email.trim(), password, role } : { email: email.trim(), role };
      const r = await request<CreatedUser>('/api/v1/users', { method: 'POST', body });
      onCreated(r.data.user, r.data.invitation === 'queued');
      setEmail('');
      setPassword('');
      setRole('viewer');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="create-user-title">
      <h2 id="create-user-title">Add a user</h2>
      <form className="form form-grid" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="new-email">Email</label>
          <input id="new-email" type="email" autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="new-password">Password (optional)</label>
          <input
            id="new-password"
            type="password"
            autoComplete="new-password"
            aria-describedby="new-password-help"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="new-role">Role</label>
          <select id="new-role" value={role} aria-describedby="new-role-help" onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-submit">
          <button className="btn btn-primary" type="submit" disabled={busy || !email.trim()}>
            {busy ? 'Adding…' : password ? 'Add user' : 'Invite user'}
          </button>
        </div>
      </form>
      <p className="hint" id="new-password-help">
        {password
          ? 'The user signs in with this password; give it to them in person or through a safe channel.'
          : 'Without a password, rookery emails the user an invitation with a link to choose their own password. The link works for 72 hours.'}
      </p>
      <p className="hint" id="new-role-help">
        {article(role)} {role} {roleText(role)}.
      </p>
      <div className="msg-slot">
        <ErrorMessage>{error}</ErrorMessage>
      </div>
    </section>
  );
}

// ---- everyone else: what their role allows, and their own password ----

function OwnAccount() {
  const { me } = useSession();
  if (!me) return null;
  return (
    <section className="page">
      <PageTitle lead="What your role lets you do here.">Users</PageTitle>
      <div className="panel locked">
        <p>
          You are signed in as <strong>{me.email}</strong> with the <strong>{me.role}</strong> role. {article(me.role)} {me.role}{' '}
          {roleText(me.role)}.
        </p>
        <p>
          Only administrators can see the list of users, add, disable or delete users, change roles, or send password links. Ask an
          administrator when someone needs access or a different role.
        </p>
      </div>
      <ChangeOwnPassword />
    </section>
  );
}

function ChangeOwnPassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone('');
    const problem = passwordProblem(next);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError('');
    try {
      const r = await request<MessageAnswer>('/api/v1/auth/password', {
        method: 'POST',
        body: { current_password: current, new_password: next },
      });
      setDone(`${r.data.message}.`);
      setCurrent('');
      setNext('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="own-password-title">
      <h2 id="own-password-title">Change your password</h2>
      <p className="hint">
        This changes your rookery password. If you sign in through single sign-on, your identity provider keeps your password instead.
      </p>
      <form className="form" onSubmit={submit} noValidate>
        <label htmlFor="own-current">Current password</label>
        <input id="own-current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        <label htmlFor="own-new">New password</label>
        <input
          id="own-new"
          type="password"
          autoComplete="new-password"
          aria-describedby="own-rules"
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
        <PasswordRules id="own-rules" />
        <div className="msg-slot" aria-live="polite">
          <ErrorMessage>{error}</ErrorMessage>
          {done && <Notice kind="ok">{done}</Notice>}
        </div>
        <button className="btn btn-primary" type="submit" disabled={busy || !current || !next}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
    </section>
  );
}
