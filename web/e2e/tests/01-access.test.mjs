// Signing in and out, keyboard use, and who may open the settings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, launch, newPage, signIn } from '../lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a wrong password is answered with a sentence', async () => {
  const page = await newPage(browser);
  await page.goto(env.pro + '/settings');
  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Email or password is wrong.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  // Focus goes back to the password, which names the error, instead of
  // falling to the page with the disabled button.
  await page.waitForFunction(() => document.activeElement?.id === 'password');
  const password = page.getByLabel('Password');
  assert.equal(await password.getAttribute('aria-invalid'), 'true');
  assert.equal(await password.getAttribute('aria-describedby'), 'login-error');
  await page.keyboard.type(env.password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the sign-in page passes axe-core and shows a single sign-on failure from the address', async () => {
  const page = await newPage(browser);
  await page.goto(env.pro + '/');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await checkA11y(page, 'sign-in page');
  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Email or password is wrong.' }).waitFor();
  await checkA11y(page, 'sign-in page after a wrong password');

  await page.goto(env.pro + '/login?sso_error=' + encodeURIComponent('your account is not in an allowed domain'));
  await page
    .getByRole('alert')
    .filter({ hasText: 'Single sign-on did not sign you in: Your account is not in an allowed domain.' })
    .waitFor();
  await checkA11y(page, 'sign-in page with a single sign-on error');
  assert.equal(await page.getByRole('link', { name: 'Forgot password?' }).getAttribute('href'), '/forgot');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('with password sign-in off, the page offers single sign-on only and says so', async () => {
  // The professional server has OIDC set up (run.sh); its button returns
  // to the page that was asked for, query included.
  const admin = await API.login(env.pro);
  const page = await newPage(browser);
  try {
    const r = await admin.call('PUT', '/api/v1/config/local_login_enabled', { value: false });
    assert.equal(r.status, 200, r.text);
    await page.goto(env.pro + '/settings?q=smtp');
    const sso = page.getByRole('link', { name: 'Sign in with SSO' });
    await sso.waitFor();
    assert.equal(await sso.getAttribute('href'), '/api/v1/auth/oidc/login?next=%2Fsettings%3Fq%3Dsmtp');
    await page.getByText('Sign-in with a password is turned off here: use single sign-on above.').waitFor();
    assert.equal(await page.locator('input[type="password"]').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Sign in', exact: true }).count(), 0);
    await checkA11y(page, 'sign-in page with single sign-on only');
  } finally {
    await admin.call('PUT', '/api/v1/config/local_login_enabled', { value: true });
  }
  // Back on, the form returns beside the button.
  await page.reload();
  await page.getByRole('link', { name: 'Sign in with SSO' }).waitFor();
  await page.getByText('or with your email and password').waitFor();
  await page.getByLabel('Password').waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('sign in with the keyboard only, land on the settings, sign out', async () => {
  const page = await newPage(browser);
  await page.goto(env.pro + '/');
  // The email field has focus on arrival.
  await page.getByLabel('Email').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'email');
  await page.keyboard.type(env.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(env.password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/settings');

  // The session is the HttpOnly cookie, never storage the page can read.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'rookery_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.equal(await page.evaluate(() => document.cookie.includes('rookery_session')), false);

  // The first Tab reaches the skip link, which leads past the navigation.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'settings-search');

  // Moving to another page puts focus on its title.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Licence' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Licence' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Licence');

  await page.getByRole('button', { name: 'Sign out' }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('You are signed out.').waitFor();
  await page.goto(env.pro + '/settings');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a viewer is kept out of the settings and integrations, and told what the role allows on the users page', async () => {
  const admin = await API.login(env.pro);
  await ensureUser(admin, 'viewer@example.com', 'viewer-password-1', 'viewer');
  const page = await newPage(browser);
  await signIn(page, env.pro, 'viewer@example.com', 'viewer-password-1');
  // A viewer starts on the licence page and sees no admin links; Users
  // stays, since it says what the role allows.
  await page.getByRole('heading', { level: 1, name: 'Licence' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.getByRole('link', { name: 'Settings' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Integrations' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Check now' }).count(), 0);

  for (const p of ['/settings', '/admin/config', '/integrations']) {
    await page.goto(env.pro + p);
    await page.getByText('Only administrators can open this page.').waitFor();
    assert.equal(await page.locator('table.settings').count(), 0, `no settings on ${p}`);
  }
  // The users page says what a viewer may do, and lists nobody.
  await page.goto(env.pro + '/users');
  await page.getByText('with the viewer role').waitFor();
  await page.getByText('Only administrators can see the list of users').waitFor();
  assert.equal(await page.locator('table.users-table').count(), 0);
  await page.getByRole('heading', { name: 'Change your password' }).waitFor();
  await checkA11y(page, 'users page as a viewer');
  // The server agrees: the API refuses the viewer too.
  const viewer = await API.login(env.pro, 'viewer@example.com', 'viewer-password-1');
  assert.equal((await viewer.get('/api/v1/config')).status, 403);
  assert.equal((await viewer.get('/api/v1/users')).status, 403);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
