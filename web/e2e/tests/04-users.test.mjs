// Users: create, role changes that wait for a confirm, disable, delete,
// setting a password, what a non-admin sees, and the licence's user limit
// (the community server allows five).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, launch, newPage, signIn } from '../lib.mjs';

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

const row = (email) => page.locator(`tbody.user-group[data-email="${email}"]`);
const apiUser = async (email) => (await api.get('/api/v1/users')).json.users.find((u) => u.email === email);
const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
const focusedText = () => page.evaluate(() => document.activeElement?.textContent ?? '');

test('create a user with a password; the list shows how and when users sign in', async () => {
  const before = (await api.get('/api/v1/users')).json.total;
  await checkA11y(page, 'users page');
  // The community server has no SMTP server: emails would only wait.
  await page.getByText('Email is not set up (no SMTP server)').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Set up email' }).getAttribute('href'), '/settings?q=smtp');
  await page.getByLabel('Email', { exact: true }).fill('maintainer@example.com');
  await page.getByLabel('Password (optional)', { exact: true }).fill('maintainer-pw-1');
  await page.getByLabel('Role', { exact: true }).selectOption('maintainer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('Created maintainer@example.com as maintainer.').waitFor();
  await row('maintainer@example.com').waitFor();
  await page.locator(`[role="meter"][aria-valuetext="${before + 1} of 5"]`).waitFor();
  assert.equal((await apiUser('maintainer@example.com'))?.role, 'maintainer');

  // Columns: sign-in method and last sign-in; the admin signed in just now.
  const cells = (email) => row(email).locator('tr').first().locator('td');
  assert.equal(await cells('maintainer@example.com').nth(2).textContent(), 'Password');
  assert.equal(await cells('maintainer@example.com').nth(3).textContent(), 'Never');
  assert.match(await cells(env.email).nth(3).textContent(), /just now|minute/);
  assert.equal(await page.getByRole('columnheader', { name: 'Signs in with' }).count(), 1);
  assert.equal(await page.getByRole('columnheader', { name: 'Last sign-in' }).count(), 1);
});

test('a role change waits for a confirm naming the user and the role; ArrowDown alone changes nothing', async () => {
  const select = row('maintainer@example.com').getByLabel('Role of maintainer@example.com');
  const selectId = await select.getAttribute('id');
  await select.focus();
  await page.keyboard.press('ArrowDown');
  const confirm = row('maintainer@example.com').getByRole('group', {
    name: /Change the role of maintainer@example\.com from maintainer to admin\?/,
  });
  await confirm.waitFor();
  // Nothing was saved, and focus stayed on the drop-down.
  assert.equal((await apiUser('maintainer@example.com')).role, 'maintainer');
  assert.equal(await focusedId(), selectId);
  await checkA11y(page, 'users page, role change to confirm');

  // Escape cancels: the drop-down shows the saved role again, focus stays.
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  assert.equal(await select.inputValue(), 'maintainer');
  assert.equal(await focusedId(), selectId);

  // Cancel does the same and puts focus back on the drop-down.
  await select.selectOption('viewer');
  await row('maintainer@example.com').getByRole('button', { name: 'Cancel' }).click();
  await page.waitForFunction((id) => document.activeElement?.id === id, selectId);
  assert.equal(await select.inputValue(), 'maintainer');
  assert.equal((await apiUser('maintainer@example.com')).role, 'maintainer');

  // Confirmed, it is saved, said, and focus returns to the drop-down.
  await select.selectOption('admin');
  await row('maintainer@example.com').getByRole('button', { name: 'Change role' }).click();
  await page.getByText('maintainer@example.com is now admin.').waitFor();
  await page.waitForFunction((id) => document.activeElement?.id === id, selectId);
  assert.equal((await apiUser('maintainer@example.com')).role, 'admin');
  assert.equal(await select.inputValue(), 'admin');
  // Your own role cannot be changed from here.
  assert.equal(await row(env.email).getByLabel(`Role of ${env.email}`).isDisabled(), true);
});

test('set a password for a user', async () => {
  const r = row('maintainer@example.com');
  await r.getByRole('button', { name: 'Set password' }).click();
  await r.getByLabel('New password for maintainer@example.com').fill('short');
  await r.getByRole('button', { name: 'Save password' }).click();
  await r.getByRole('alert').filter({ hasText: 'at least 12 characters' }).waitFor();
  await r.getByLabel('New password for maintainer@example.com').fill('a-new-password-2');
  await r.getByRole('button', { name: 'Save password' }).click();
  await page.getByText('Set a new password for maintainer@example.com.').waitFor();
  assert.equal(await focusedText(), 'Set password');
  await API.login(env.community, 'maintainer@example.com', 'a-new-password-2');
  await assert.rejects(API.login(env.community, 'maintainer@example.com', 'maintainer-pw-1'));
});

test('disable and delete ask first; enable does not', async () => {
  await ensureUser(api, 'leaving@example.com', 'leaving-password-1', 'viewer');
  await page.reload();
  const r = row('leaving@example.com');
  await r.waitFor();

  await r.getByRole('button', { name: 'Disable', exact: true }).click();
  const disable = r.getByRole('group', { name: /Disable leaving@example\.com\?/ });
  await disable.waitFor();
  assert.equal((await apiUser('leaving@example.com')).disabled, false);
  await checkA11y(page, 'users page, disable to confirm');
  await r.getByRole('button', { name: 'Disable account' }).click();
  await page.getByText('leaving@example.com is disabled').waitFor();
  await r.getByText('disabled', { exact: true }).waitFor();
  assert.equal((await apiUser('leaving@example.com')).disabled, true);
  // Focus is on the same control, which now enables the account.
  await page.waitForFunction(() => document.activeElement?.textContent === 'Enable');
  await assert.rejects(API.login(env.community, 'leaving@example.com', 'leaving-password-1'));

  await r.getByRole('button', { name: 'Enable' }).click();
  await page.getByText('leaving@example.com is enabled again and can sign in.').waitFor();
  assert.equal((await apiUser('leaving@example.com')).disabled, false);

  await r.getByRole('button', { name: 'Delete', exact: true }).click();
  await r.getByRole('group', { name: /Delete leaving@example\.com\? .*cannot be undone/ }).waitFor();
  await r.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Delete');
  assert.ok(await apiUser('leaving@example.com'));

  await r.getByRole('button', { name: 'Delete', exact: true }).click();
  await r.getByRole('button', { name: 'Delete user' }).click();
  await page.getByText('Deleted leaving@example.com.').waitFor();
  await r.waitFor({ state: 'detached' });
  assert.equal(await apiUser('leaving@example.com'), undefined);
  // The row is gone; focus lands on the list's heading above it.
  assert.equal(await focusedId(), 'users-count');
  assert.deepEqual(page.problems, []);
});

test('a maintainer sees what the role allows and can change their own password', async () => {
  await ensureUser(api, 'keeper@example.com', 'keeper-password-1', 'maintainer');
  const other = await newPage(browser);
  await signIn(other, env.community, 'keeper@example.com', 'keeper-password-1');
  await other.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await other.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  await other.getByText('with the maintainer role').waitFor();
  await other.getByText('Only administrators can see the list of users').waitFor();
  assert.equal(await other.locator('table.users-table').count(), 0);
  await checkA11y(other, 'users page as a maintainer');

  await other.getByLabel('Current password').fill('keeper-password-1');
  await other.getByLabel('New password', { exact: true }).fill('keeper-password-2');
  await other.getByRole('button', { name: 'Change password' }).click();
  await other.getByText('Password changed').waitFor();
  await API.login(env.community, 'keeper@example.com', 'keeper-password-2');
  assert.deepEqual(other.problems, []);
  await other.context().close();
  await api.call('DELETE', `/api/v1/users/${(await apiUser('keeper@example.com')).id}`);
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
  await page.getByLabel('Password (optional)', { exact: true }).fill('one-too-many-pw');
  await page.getByRole('button', { name: 'Add user' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'User limit reached' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /community licence allows at most 5 users/);
  assert.equal(await row('one-too-many@example.com').count(), 0);
  await checkA11y(page, 'users page at the user limit');
  assert.deepEqual(page.problems, []);
});
