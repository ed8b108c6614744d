// Email: a forgotten password comes back through the link emailed to the
// fakes' SMTP receiver, once; an invitation's link lets the new user
// choose a password.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, fake, launch, newPage, signIn } from '../lib.mjs';

let browser, page, api;
before(async () => {
  browser = await launch();
  page = await newPage(browser);
  api = await API.login(env.pro);
  await fake('/smtp/reset');
});
after(async () => {
  await browser?.close();
});

/** messagesTo lists what the SMTP receiver got for address. */
async function messagesTo(address) {
  const res = await fetch(env.control + '/smtp/messages');
  if (!res.ok) throw new Error(`smtp messages: ${res.status}`);
  return (await res.json()).messages.filter((m) => m.to.includes(address));
}

/** linkTo waits for the count-th message to address and returns its link. */
async function linkTo(address, count = 1) {
  for (let i = 0; i < 100; i++) {
    const got = await messagesTo(address);
    if (got.length >= count) {
      const m = got[count - 1].text.match(/http:\/\/\S+\/reset\?token=\S+/);
      assert.ok(m, `no link in the message to ${address}: ${got[count - 1].text}`);
      return { link: m[0], message: got[count - 1] };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${address} within 10 s`);
}

test('a forgotten password is reset through the emailed link, which works once', async () => {
  const email = 'forgetful@example.com';
  await ensureUser(api, email, 'forgotten-password-1', 'viewer');
  await page.goto(env.pro + '/login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor();
  await checkA11y(page, 'forgot password page');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByText('If an account exists for that address, we sent a link to it.').waitFor();

  const { link, message } = await linkTo(email);
  // Other tests may have renamed the app: the subject follows app_name.
  const appName = (await api.get('/api/v1/config/app_name')).json.value;
  assert.equal(message.subject, `${appName}: reset your password`);
  assert.match(message.html, /<a href="http:\/\/[^"]+\/reset\?token=/);
  assert.match(message.message_id, /^<rookery\.[0-9a-f]+@example\.com>$/);

  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: `Choose a new password for ${email}` }).waitFor();
  await checkA11y(page, 'reset password page');
  await page.getByLabel('New password', { exact: true }).fill('remembered-password-2');
  await page.getByLabel('Repeat the password').fill('remembered-password-2');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.waitForURL(/\/login$/);
  await signIn(page, env.pro, email, 'remembered-password-2');
  assert.equal((await API.login(env.pro, email, 'remembered-password-2').catch(() => null)) !== null, true);
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The link is used up.
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: 'This link cannot be used' }).waitFor();
  const r = await fetch(env.pro + '/api/v1/auth/password/reset', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: new URL(link).searchParams.get('token'), password: 'another-password-3' }),
  });
  assert.equal(r.status, 400);
});

test('an unknown address gets the same answer and no email', async () => {
  await page.goto(env.pro + '/forgot');
  await page.getByLabel('Email').fill('nobody-here@example.com');
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByText('If an account exists for that address, we sent a link to it.').waitFor();
  await new Promise((r) => setTimeout(r, 1500)); // a worker poll and more
  assert.deepEqual(await messagesTo('nobody-here@example.com'), []);
});

test('an invited user chooses a password through the invitation link', async () => {
  const email = 'invitee@example.com';
  const r = await api.call('POST', '/api/v1/users', { email, role: 'viewer' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.user.invited, true);
  assert.equal(r.json.invitation, 'queued');
  const { link, message } = await linkTo(email);
  assert.match(message.subject, /you are invited/);
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: `Welcome — choose a password for ${email}` }).waitFor();
  await page.getByLabel('Password', { exact: true }).fill('invited-password-1');
  await page.getByLabel('Repeat the password').fill('invited-password-1');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.waitForURL(/\/login$/);
  await signIn(page, env.pro, email, 'invited-password-1');
  const users = (await api.get('/api/v1/users')).json.users;
  assert.equal(users.find((u) => u.email === email)?.invited, false);
  const outbox = (await api.get('/api/v1/email/outbox')).json;
  assert.ok(outbox.counts.sent >= 2, JSON.stringify(outbox.counts));
});
