import { useEffect, useState, type ReactNode } from 'react';
import { errorText } from './api';
import { AIPage } from './pages/AI';
import { ForgotPage } from './pages/Forgot';
import { IntegrationsPage } from './pages/Integrations';
import { LicensePage } from './pages/License';
import { LoginPage } from './pages/Login';
import { ResetPage } from './pages/Reset';
import { SettingsPage } from './pages/Settings';
import { UsersPage } from './pages/Users';
import { Link, navigate, openPaths, usePath } from './router';
import { isAdmin, useSession } from './session';
import { ErrorMessage, PageTitle } from './ui';

interface Route {
  paths: string[];
  title: string;
  nav: string;
  adminOnly: boolean;
  page: () => ReactNode;
}

const routes: Route[] = [
  { paths: ['/settings', '/admin/config'], title: 'Settings', nav: 'Settings', adminOnly: true, page: () => <SettingsPage /> },
  { paths: ['/license'], title: 'Licence', nav: 'Licence', adminOnly: false, page: () => <LicensePage /> },
  { paths: ['/integrations'], title: 'Integrations', nav: 'Integrations', adminOnly: true, page: () => <IntegrationsPage /> },
  { paths: ['/ai'], title: 'AI', nav: 'AI', adminOnly: false, page: () => <AIPage /> },
  // Everyone may open the users page: it says what each role may do with it.
  { paths: ['/users'], title: 'Users', nav: 'Users', adminOnly: false, page: () => <UsersPage /> },
];

export function App() {
  const { me, notice } = useSession();
  const path = usePath();
  const route = routes.find((r) => r.paths.includes(path));

  useEffect(() => {
    if (openPaths.includes(path)) return;
    document.title = me && route ? `${route.title} · rookery` : me === null ? 'Sign in · rookery' : 'rookery';
  }, [me, route, path]);

  // The root address leads to the page a role can use.
  useEffect(() => {
    if (me && (path === '/' || path === '/login')) navigate(isAdmin(me.role) ? '/settings' : '/license', { replace: true });
  }, [me, path]);

  // The password link pages work signed in or not, and set their own titles.
  if (openPaths.includes(path)) return path === '/forgot' ? <ForgotPage /> : <ResetPage />;
  if (me === undefined) {
    return (
      <div className="boot" role="status">
        Loading rookery…
      </div>
    );
  }
  if (me === null) return <LoginPage notice={notice} />;

  let body: ReactNode;
  if (!route) {
    body = path === '/' || path === '/login' ? null : <NotFound />;
  } else if (route.adminOnly && !isAdmin(me.role)) {
    body = <AdminsOnly title={route.title} role={me.role} />;
  } else {
    body = route.page();
  }

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header current={route} />
      <main id="main" key={path}>
        {body}
      </main>
    </>
  );
}

function Header({ current }: { current?: Route }) {
  const { me, signOut } = useSession();
  const [error, setError] = useState('');
  if (!me) return null;
  const visible = routes.filter((r) => !r.adminOnly || isAdmin(me.role));
  return (
    <header className="top">
      <div className="top-inner">
        <Link to={isAdmin(me.role) ? '/settings' : '/license'} className="brand">
          rookery
        </Link>
        <nav aria-label="Main">
          <ul>
            {visible.map((r) => (
              <li key={r.paths[0]}>
                <Link to={r.paths[0]!} aria-current={current === r ? 'page' : undefined}>
                  {r.nav}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className="who-email" title={me.email}>
            {me.email}
          </span>
          <span className="badge">{me.role}</span>
          <button
            type="button"
            className="btn btn-quiet"
            onClick={() => {
              setError('');
              signOut().catch((err) => setError(errorText(err)));
            }}
          >
            Sign out
          </button>
        </div>
      </div>
      {error && (
        <div className="top-inner">
          <ErrorMessage>{error}</ErrorMessage>
        </div>
      )}
    </header>
  );
}

function AdminsOnly({ title, role }: { title: string; role: string }) {
  return (
    <section className="page">
      <PageTitle>{title}</PageTitle>
      <div className="panel locked">
        <p>
          <strong>Only administrators can open this page.</strong> You are signed in with the <em>{role}</em> role.
        </p>
        <p>Ask an administrator to change a setting for you, or to give you the admin role.</p>
        <p>
          <Link to="/license">See the licence instead</Link>
        </p>
      </div>
    </section>
  );
}

function NotFound() {
  return (
    <section className="page">
      <PageTitle>Page not found</PageTitle>
      <p>
        There is no page at this address. <Link to="/">Go to the start page</Link>.
      </p>
    </section>
  );
}
