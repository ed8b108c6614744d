import { useId, useState, type FormEvent } from 'react';
import { errorText, get, request, type LicenseView, type Role, type User } from '../api';
import { human, localDate } from '../format';
import { useSession } from '../session';
import { ErrorMessage, Loading, Meter, Notice, PageTitle, useLoad } from '../ui';

const roles: { id: Role; text: string }[] = [
  { id: 'viewer', text: 'reads the licence and uses the AI features' },
  { id: 'maintainer', text: 'does what a viewer does and may also maintain the application' },
  { id: 'admin', text: 'can do everything, including settings and users' },
];

export function UsersPage() {
  const users = useLoad((signal) => get<{ users: User[] }>('/api/v1/users', signal).then((r) => r.users));
  const lic = useLoad((signal) => get<LicenseView>('/api/v1/license', signal));
  const [flash, setFlash] = useState('');

  const changed = (u: User, what: string) => {
    if (users.data) users.set(users.data.map((x) => (x.id === u.id ? u : x)));
    setFlash(what);
  };

  const usage = lic.data?.usage;
  const max = usage?.max_users ?? -1;
  const count = users.data?.length ?? usage?.users ?? 0;
  const full = max >= 0 && count >= max;

  return (
    <section className="page">
      <PageTitle lead="Who can sign in, and with which role.">Users</PageTitle>

      {lic.data && (
        <div className="panel">
          <Meter label={`Users allowed by the ${human(lic.data.license.tier || 'current').toLowerCase()} licence`} used={count} max={max} />
          {full && <Notice kind="warn">The licence's user limit is reached: remove a user or upgrade the licence to add another.</Notice>}
        </div>
      )}

      {users.loading && !users.data && <Loading what="users" lines={4} />}
      <ErrorMessage>{users.error}</ErrorMessage>
      {users.data && (
        <div className="panel">
          <h2>{users.data.length === 1 ? '1 user' : `${users.data.length} users`}</h2>
          <div className="msg-slot" aria-live="polite">
            {flash && <Notice kind="ok">{flash}</Notice>}
          </div>
          <ul className="users">
            {users.data.map((u) => (
              <UserItem key={u.id} user={u} onChanged={changed} />
            ))}
          </ul>
        </div>
      )}

      <CreateUser
        onCreated={(u) => {
          if (users.data) users.set([...users.data, u]);
          lic.reload();
          setFlash(`Created ${u.email} as ${u.role}.`);
        }}
      />
    </section>
  );
}

function UserItem({ user, onChanged }: { user: User; onChanged(u: User, what: string): void }) {
  const { me } = useSession();
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState('');
  const self = me?.id === user.id;

  const patch = async (body: { role?: Role; password?: string }, what: string) => {
    setBusy(true);
    setError('');
    try {
      const r = await request<{ user: User }>(`/api/v1/users/${user.id}`, { method: 'PATCH', body });
      onChanged(r.data.user, what);
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const reset = async (e: FormEvent) => {
    e.preventDefault();
    if (await patch({ password }, `Set a new password for ${user.email}.`)) {
      setPassword('');
      setResetting(false);
    }
  };

  return (
    <li className="user" data-email={user.email}>
      <div className="user-main">
        <span className="user-email">
          {user.email}
          {self && <span className="sub"> (you)</span>}
        </span>
        <span className="sub">since {localDate(user.created_at)}</span>
      </div>
      <div className="user-controls">
        <label htmlFor={`${id}-role`} className="sr-only">
          Role of {user.email}
        </label>
        <select
          id={`${id}-role`}
          value={user.role}
          disabled={busy || self}
          title={self ? 'You cannot change your own role.' : undefined}
          onChange={(e) => void patch({ role: e.target.value as Role }, `${user.email} is now ${e.target.value}.`)}
        >
          {roles.map((r) => (
            <option key={r.id} value={r.id}>
              {r.id}
            </option>
          ))}
        </select>
        <button type="button" className="btn btn-small btn-quiet" aria-expanded={resetting} onClick={() => setResetting(!resetting)}>
          Reset password
        </button>
      </div>
      {resetting && (
        <form className="reset" onSubmit={reset} aria-label={`Reset the password of ${user.email}`} noValidate>
          <label htmlFor={`${id}-pw`}>New password for {user.email}</label>
          <div className="editor-input">
            <input
              id={`${id}-pw`}
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              autoFocus
            />
            <button className="btn btn-primary btn-small" type="submit" disabled={busy || !password}>
              Set password
            </button>
            <button className="btn btn-small" type="button" onClick={() => setResetting(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <ErrorMessage>{error}</ErrorMessage>
    </li>
  );
}

function CreateUser({ onCreated }: { onCreated(u: User): void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await request<{ user: User }>('/api/v1/users', { method: 'POST', body: { email: email.trim(), password, role } });
      onCreated(r.data.user);
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
          <label htmlFor="new-password">Password</label>
          <input id="new-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
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
          <button className="btn btn-primary" type="submit" disabled={busy || !email.trim() || !password}>
            {busy ? 'Adding…' : 'Add user'}
          </button>
        </div>
      </form>
      <p className="hint" id="new-role-help">
        {role === 'admin' ? 'An' : 'A'} {role} {roles.find((r) => r.id === role)?.text}.
      </p>
      <div className="msg-slot">
        <ErrorMessage>{error}</ErrorMessage>
      </div>
    </section>
  );
}
