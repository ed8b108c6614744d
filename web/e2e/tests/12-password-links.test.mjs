// Password links by email, as far as the browser sees them: the forgot
// page answers the same for every address, the reset page shows the rules
// and says what is wrong before and after sending, a bad link says so and
// offers a new one, and admins invite users and send reset links from the
// users page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, launch, newPage, signIn } from '../lib.mjs';

let browser, api;
before(async () => {
  browser = await launch();
  api = await API.login(env.pro);
});
after(async () => {
  await browser?.close();
});

const outbox = async () => (await api.get('/api/v1/email/outbox')).json.messages;
const sameAnswer = 'If an account exists for that address, we sent a link to it.';

test('the forgot page answers the same for every address and asks for a reset link', async () => {
  await ensureUser(api, 'forgetful-12@example.com', 'forgetful-password-1', 'viewer');
  const page = await newPage(browser);
  await page.goto(env.pro + '/settings');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/forgot');
  assert.equal(await page.title(), 'Forgot password · rookery');
  await checkA11y(page, 'forgot page');

  // Not an address: said at once, nothing sent, focus on the field.
  await page.getByLabel('Email').fill('forgetful');
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByRole('alert').filter({ hasText: 'Enter the email address of your account' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'forgot-email');
  await checkA11y(page, 'forgot page with an error');

  await page.getByLabel('Email').fill('nobody-here@example.com');
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByText(sameAnswer).waitFor();
  const unknownText = await page.getByRole('status').textContent();

  await page.getByLabel('Email').fill('forgetful-12@example.com');
  await page.getByRole('button', { name: 'Send link' }).click();
  // The answer is the same word for word: the page cannot tell which
  // addresses have accounts.
  await page.waitForFunction(
    (n) => document.querySelectorAll('[role="status"]').length === 1 && document.querySelector('[role="status"]')?.textContent === n,
    unknownText,
  );
  await checkA11y(page, 'forgot page after sending');

  // Only the known account got a reset email (the server may queue it
  // after answering, so that both answers take the same time).
  let to = [];
  for (let i = 0; i < 50 && !to.includes('forgetful-12@example.com'); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    to = (await outbox()).filter((m) => m.kind === 'reset').map((m) => m.to);
  }
  assert.ok(to.includes('forgetful-12@example.com'), `a reset email for forgetful-12@example.com in ${JSON.stringify(to)}`);
  assert.ok(!to.includes('nobody-here@example.com'));

  await page.getByRole('link', { name: 'Back to sign in' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

/** resetLink asks for a reset link for email and reads it from the mail
 * the fakes' SMTP receiver got. */
async function resetLink(email) {
  const seen = async () => {
    const res = await fetch(env.control + '/smtp/messages');
    if (!res.ok) throw new Error(`smtp messages: ${res.status}`);
    return (await res.json()).messages.filter((m) => m.to.includes(email));
  };
  const had = (await seen()).length;
  const r = await fetch(env.pro + '/api/v1/auth/password/forgot', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  assert.equal(r.status, 202);
  for (let i = 0; i < 100; i++) {
    const got = await seen();
    if (got.length > had) return got[got.length - 1].text.match(/http:\/\/\S+\/reset\?token=\S+/)[0];
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`no email to ${email} within 10 s`);
}

test('the reset page shows the rules, says what is wrong where it is, and ends on the sign-in page', async () => {
  const email = 'chooser@example.com';
  await ensureUser(api, email, 'chooser-password-1', 'viewer');
  const link = await resetLink(email);
  const page = await newPage(browser);
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: `Choose a new password for ${email}` }).waitFor();
  await page.getByText('at least 12 characters').waitFor();
  await page.getByText('This link works until').waitFor();
  await checkA11y(page, 'reset page');
  const focused = () => page.evaluate(() => document.activeElement?.id);

  // Too short: said before anything is sent, focus on the field.
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('Repeat the password').fill('short');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('alert').filter({ hasText: 'at least 12 characters; it has 5' }).waitFor();
  assert.equal(await focused(), 'reset-password');
  await checkA11y(page, 'reset page with an error');

  // The two fields differ: focus on the second.
  await page.getByLabel('New password', { exact: true }).fill('chosen-password-2');
  await page.getByLabel('Repeat the password').fill('chosen-password-3');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('alert').filter({ hasText: 'The two passwords differ' }).waitFor();
  assert.equal(await focused(), 'reset-repeat');

  // A leaked password is refused by the server; the link still works.
  await page.getByLabel('New password', { exact: true }).fill('1qaz2wsx3edc');
  await page.getByLabel('Repeat the password').fill('1qaz2wsx3edc');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('alert').filter({ hasText: 'too common' }).waitFor();
  assert.equal(await focused(), 'reset-password');

  await page.getByLabel('New password', { exact: true }).fill('chosen-password-2');
  await page.getByLabel('Repeat the password').fill('chosen-password-2');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByText(`Your password is set. Sign in as ${email} with it.`).waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  await checkA11y(page, 'sign-in page after a password was set');
  await API.login(env.pro, email, 'chosen-password-2');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a used, expired or made-up link says so and offers a new one', async () => {
  const page = await newPage(browser);
  for (const address of ['/reset?token=not-a-real-token', '/reset']) {
    await page.goto(env.pro + address);
    await page.getByRole('heading', { level: 1, name: 'This link cannot be used' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'This link is not valid' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Set password' }).count(), 0);
  }
  await checkA11y(page, 'reset page with a bad link');
  await page.getByRole('link', { name: 'Ask for a new link' }).click();
  await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an admin invites a user without a password, resends the invitation and sends a reset link', async () => {
  await ensureUser(api, 'reset-me@example.com', 'reset-me-password-1', 'viewer');
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/users');
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await page.locator('tbody.user-group').first().waitFor();
  // This server sends email, so there is no warning that it does not.
  assert.equal(await page.getByText('Email is not set up').count(), 0);
  const row = (email) => page.locator(`tbody.user-group[data-email="${email}"]`);

  await page.getByLabel('Email', { exact: true }).fill('newcomer@example.com');
  await page.getByLabel('Role', { exact: true }).selectOption('maintainer');
  await page.getByText('rookery emails the user an invitation').waitFor();
  await page.getByRole('button', { name: 'Invite user' }).click();
  await page.getByText('Invited newcomer@example.com as maintainer: the invitation email is queued.').waitFor();
  await row('newcomer@example.com').getByText('invited', { exact: true }).waitFor();
  const created = (await api.get('/api/v1/users')).json.users.find((u) => u.email === 'newcomer@example.com');
  assert.equal(created.invited, true);
  assert.equal(created.role, 'maintainer');
  // Invited users have no reset link to send, only an invitation.
  assert.equal(await row('newcomer@example.com').getByRole('button', { name: 'Send password reset' }).count(), 0);
  await checkA11y(page, 'users page with an invited user');

  const invitations = async () => (await outbox()).filter((m) => m.kind === 'invitation' && m.to === 'newcomer@example.com').length;
  assert.equal(await invitations(), 1);
  await row('newcomer@example.com').getByRole('button', { name: 'Resend invitation' }).click();
  await page.getByText('A new invitation for newcomer@example.com is queued for sending.').waitFor();
  assert.equal(await invitations(), 2);

  await page.reload();
  const resets = async () => (await outbox()).filter((m) => m.kind === 'reset' && m.to === 'reset-me@example.com').length;
  const had = await resets();
  await row('reset-me@example.com').getByRole('button', { name: 'Send password reset' }).click();
  await page.getByText('A password reset link for reset-me@example.com is queued for sending.').waitFor();
  assert.equal(await resets(), had + 1);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an account that signs in through single sign-on shows it and offers no password actions', async () => {
  // The fakes' OpenID Connect provider approves its user at once (run.sh).
  const ssoEmail = process.env.OIDC_EMAIL ?? 'sso.user@example.com';
  const sso = await newPage(browser);
  await sso.goto(env.pro + '/');
  await sso.getByRole('link', { name: 'Sign in with SSO' }).click();
  await sso.getByRole('button', { name: 'Sign out' }).waitFor();
  await sso.context().close();

  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/users');
  const row = page.locator(`tbody.user-group[data-email="${ssoEmail}"]`);
  await row.waitFor();
  const cells = row.locator('tr').first().locator('td');
  assert.equal(await cells.nth(2).textContent(), 'OIDC');
  assert.match(await cells.nth(3).textContent(), /just now|minute/);
  for (const name of ['Send password reset', 'Set password', 'Resend invitation']) {
    assert.equal(await row.getByRole('button', { name }).count(), 0, `no ${name} for an OIDC account`);
  }
  // Disabling and deleting still work as for anyone.
  assert.equal(await row.getByRole('button', { name: 'Disable', exact: true }).count(), 1);
  assert.equal(await row.getByRole('button', { name: 'Delete', exact: true }).count(), 1);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
