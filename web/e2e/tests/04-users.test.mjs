// Users: create, change role, reset password, and the licence's user limit
// (the community server allows five).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, ensureUser, env, launch, newPage, signIn } from '../lib.mjs';

let browser, page, api;
before(async () => {
  browser = await launch();
  page = await newPage(browser);
  api = await API.login(env.community);
  await signIn(page, env.community);
  await page.goto(env.community + '/users');
  await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
});
after(async () => {
  await browser?.close();
});

const item = (email) => page.locator(`li.user[data-email="${email}"]`);

test('create a user with a role', async () => {
  const before = (await api.get('/api/v1/users')).json.total;
  await page.getByLabel('Email', { exact: true }).fill('maintainer@example.com');
  await page.getByLabel('Password', { exact: true }).fill('maintainer-pw-1');
  await page.getByLabel('Role', { exact: true }).selectOption('maintainer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('Created maintainer@example.com as maintainer.').waitFor();
  await item('maintainer@example.com').waitFor();
  await page.locator(`[role="meter"][aria-valuetext="${before + 1} of 5"]`).waitFor();
  const users = (await api.get('/api/v1/users')).json.users;
  assert.equal(users.find((u) => u.email === 'maintainer@example.com')?.role, 'maintainer');
});

test('change a role and reset a password', async () => {
  await item('maintainer@example.com').getByLabel('Role of maintainer@example.com').selectOption('admin');
  await page.getByText('maintainer@example.com is now admin.').waitFor();
  const users = (await api.get('/api/v1/users')).json.users;
  assert.equal(users.find((u) => u.email === 'maintainer@example.com')?.role, 'admin');

  await item('maintainer@example.com').getByRole('button', { name: 'Reset password' }).click();
  await item('maintainer@example.com').getByLabel('New password for maintainer@example.com').fill('a-new-password-2');
  await item('maintainer@example.com').getByRole('button', { name: 'Set password', exact: true }).click();
  await page.getByText('Set a new password for maintainer@example.com.').waitFor();
  await API.login(env.community, 'maintainer@example.com', 'a-new-password-2');
  await assert.rejects(API.login(env.community, 'maintainer@example.com', 'maintainer-pw-1'));
  // Your own role cannot be changed from here.
  assert.equal(await item(env.email).getByLabel(`Role of ${env.email}`).isDisabled(), true);
});

test("at the licence's user limit the server's sentence is shown", async () => {
  for (let i = 1; ; i++) {
    const total = (await api.get('/api/v1/users')).json.total;
    if (total >= 5) break;
    await ensureUser(api, `filler${i}@example.com`, 'filler-password', 'viewer');
  }
  await page.reload();
  await page.locator('[role="meter"][aria-valuetext="5 of 5"]').waitFor();
  await page.getByText("The licence's user limit is reached").waitFor();
  await page.getByLabel('Email', { exact: true }).fill('one-too-many@example.com');
  await page.getByLabel('Password', { exact: true }).fill('one-too-many-pw');
  await page.getByRole('button', { name: 'Add user' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'User limit reached' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /community licence allows at most 5 users/);
  assert.equal(await item('one-too-many@example.com').count(), 0);
  assert.deepEqual(page.problems, []);
});
