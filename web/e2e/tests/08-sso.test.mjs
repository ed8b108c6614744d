// Single sign-on through OpenID Connect: the professional rookery is set
// up (run.sh) with the fakes' provider, which approves its user at once.
// The browser clicks the button on the sign-in page, goes through the
// provider and lands signed in on the page it came from.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, env, fake, launch, newPage } from '../lib.mjs';

const ssoEmail = process.env.OIDC_EMAIL ?? 'sso.user@example.com';

let browser, api;
before(async () => {
  browser = await launch();
  api = await API.login(env.pro);
});
after(async () => {
  await fake('/oidc/ok');
  await browser?.close();
});

test('the SSO button signs in through the provider and returns to the page', async () => {
  const page = await newPage(browser);
  await page.goto(env.pro + '/license');
  const button = page.getByRole('link', { name: 'Sign in with SSO' });
  await button.waitFor();
  assert.match(await button.getAttribute('href'), /^\/api\/v1\/auth\/oidc\/login\?next=%2Flicense$/);
  await checkA11y(page, 'sign-in page with single sign-on');
  await button.click();

  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/license');
  await page.getByRole('heading', { level: 1, name: 'Licence' }).waitFor();

  // The session is the same HttpOnly, SameSite=Strict cookie as a password
  // sign-in's; the sign-in's own cookie is gone.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'rookery_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(cookies.find((c) => c.name === 'rookery_sso_oidc'), undefined);

  // The account was created at first sign-in, with the role its group maps to.
  const users = (await api.get('/api/v1/users')).json.users;
  const user = users.find((u) => u.email === ssoEmail);
  assert.ok(user, `${ssoEmail} is a user`);
  assert.equal(user.sign_in_method, 'oidc');
  assert.equal(user.role, 'maintainer');
  assert.ok(user.last_sign_in_at);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a refusal at the provider lands on the sign-in page with the reason', async () => {
  await fake('/oidc/deny?error=access_denied');
  const page = await newPage(browser);
  await page.goto(env.pro + '/');
  await page.getByRole('link', { name: 'Sign in with SSO' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: 'Single sign-on did not sign you in: The identity provider refused the sign-in (access_denied)' })
    .waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  await fake('/oidc/ok');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
