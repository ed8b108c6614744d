// The settings page: search and filter, an editor for each type, the
// server's validation messages, masked secrets, history and conflicts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, ensureUser, env, launch, newPage, shot, signIn } from '../lib.mjs';

let browser, page, api, otherAdmin;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
  api = await API.login(env.pro);
  await ensureUser(api, 'second-admin@example.com', 'second-admin-pw', 'admin');
  otherAdmin = await API.login(env.pro, 'second-admin@example.com', 'second-admin-pw');
  await signIn(page, env.pro);
  await page.goto(env.pro + '/settings');
  await page.locator('tr[data-key="app_name"]').waitFor();
});

after(async () => {
  await browser?.close();
});

const row = (key) => page.locator(`tr[data-key="${key}"]`);
const editor = (key) => page.getByRole('form', { name: `Edit ${key}` });

async function search(q) {
  await page.getByLabel('Search').fill(q);
}

async function openEditor(key) {
  await search(key);
  await row(key).getByRole('button', { name: `Edit ${key}` }).click();
  await editor(key).waitFor();
  return editor(key);
}

async function stored(key) {
  const r = await api.get('/api/v1/config/' + key);
  assert.equal(r.status, 200);
  return r.json;
}

test('search and category filter find settings', async () => {
  const total = (await api.get('/api/v1/config')).json.total;
  await search('smtp');
  await row('smtp_port').waitFor();
  assert.equal(await row('app_name').count(), 0);
  assert.equal(await page.locator('tbody tr[data-key]').count(), 5);
  await page.getByText(`5 of ${total} settings`).waitFor();

  // Searching the description works too.
  await search('licence server');
  await row('license_server_url').waitFor();

  await search('');
  await page.getByLabel('Category').selectOption('email');
  assert.equal(await page.locator('tbody tr[data-key]').count(), 5);
  assert.equal(await page.getByRole('heading', { level: 2, name: /Integration/ }).count(), 0);
  await page.getByLabel('Category').selectOption('');

  await search('no-such-setting-xyz');
  await page.getByText('No setting matches').waitFor();
  await page.getByRole('button', { name: 'Show all settings' }).click();
  assert.equal(await page.locator('tbody tr[data-key]').count(), total);
});

test('a string: the server refuses a bad value, then takes a good one', async () => {
  const form = await openEditor('app_name');
  const input = form.getByLabel('New value for app_name');
  assert.equal(await input.inputValue(), (await stored('app_name')).value);

  await input.fill('Bad Name!');
  await form.getByRole('button', { name: 'Save' }).click();
  const err = form.locator('.field-error');
  await err.waitFor();
  assert.match(await err.textContent(), /lower-case letters, digits and hyphens/);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal((await stored('app_name')).value, 'rookery', 'nothing was saved');

  await input.fill('rookery-e2e');
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved app_name.').waitFor();
  assert.equal(await editor('app_name').count(), 0, 'editor closed');
  await row('app_name').getByText('rookery-e2e').waitFor();
  await row('app_name').getByText(`by ${env.email}`).waitFor();
  const s = await stored('app_name');
  assert.equal(s.value, 'rookery-e2e');
  assert.equal(s.updated_by, env.email);
  // Focus goes back to the row's Edit button.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit app_name');
});

test('an integer: a number field, the range checked by the server', async () => {
  const form = await openEditor('smtp_port');
  const input = form.getByLabel('New value for smtp_port');
  assert.equal(await input.getAttribute('type'), 'number');
  await input.fill('70000');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.locator('.field-error').filter({ hasText: 'The value must be a port between 1 and 65535.' }).waitFor();

  await input.fill('2525');
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved smtp_port.').waitFor();
  await row('smtp_port').getByText('2525').waitFor();
  assert.equal((await stored('smtp_port')).value, '2525');
});

test('removing a stored value falls back to the default', async () => {
  const form = await openEditor('smtp_port');
  await form.getByRole('button', { name: 'Remove stored value' }).click();
  await page.getByText('Removed the stored value of smtp_port; it now comes from its default.').waitFor();
  await row('smtp_port').getByText('587').waitFor();
  await row('smtp_port').getByText('default', { exact: true }).waitFor();
  const s = await stored('smtp_port');
  assert.equal(s.value, '587');
  assert.equal(s.source, 'default');
});

test('a boolean: a switch; switching the AI features off shows on the AI page', async () => {
  let form = await openEditor('ai_features_enabled');
  const sw = form.getByRole('switch', { name: 'New value for ai_features_enabled' });
  assert.equal(await sw.getAttribute('aria-checked'), 'true');
  await sw.press('Space');
  assert.equal(await sw.getAttribute('aria-checked'), 'false');
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved ai_features_enabled.').waitFor();
  await row('ai_features_enabled').getByText('Off', { exact: true }).waitFor();
  assert.equal((await stored('ai_features_enabled')).value, 'false');

  const other = await newPage(browser);
  await signIn(other, env.pro);
  await other.goto(env.pro + '/ai');
  await other.getByText('AI features are switched off').waitFor();
  await other.context().close();

  form = await openEditor('ai_features_enabled');
  await form.getByRole('switch').click();
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved ai_features_enabled.').waitFor();
  assert.equal((await stored('ai_features_enabled')).value, 'true');
});

test('JSON: syntax is checked before saving, the server checks the content and stores it compacted', async () => {
  // app_name is rookery-e2e since the string test; extras follow its rule.
  const form = await openEditor('marchproxy_extras');
  const input = form.getByLabel('New value for marchproxy_extras');
  assert.equal(await input.evaluate((el) => el.tagName), 'TEXTAREA');
  await input.fill('{"services": [');
  await form.getByText('This is not valid JSON').waitFor();
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);

  // Valid JSON that MarchProxy would refuse: the server names the problem.
  await input.fill('{"services": [{"name": "rookery-e2e-worker", "ip_fqdn": "worker", "port": 70000, "auth_type": "none"}]}');
  assert.equal(await form.getByText('This is not valid JSON').count(), 0);
  await form.getByRole('button', { name: 'Save' }).click();
  await form.locator('.field-error').filter({ hasText: 'services[0].port: 70000 is not a port' }).waitFor();
  assert.equal((await stored('marchproxy_extras')).source, 'default', 'nothing was saved');

  await input.fill('{"services": [{"name": "rookery-e2e-worker", "ip_fqdn": "worker", "port": 9000, "auth_type": "none"}]}');
  await form.getByRole('button', { name: 'Format' }).click();
  assert.match(await input.inputValue(), /\n {2}"services": \[/);
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved marchproxy_extras.').waitFor();
  assert.equal(
    (await stored('marchproxy_extras')).value,
    '{"services":[{"name":"rookery-e2e-worker","ip_fqdn":"worker","port":9000,"auth_type":"none"}]}',
  );

  // The integrations page lists the extra service next to the generated ones.
  const other = await newPage(browser);
  await signIn(other, env.pro);
  await other.goto(env.pro + '/integrations');
  const card = other.getByRole('region', { name: 'MarchProxy' });
  await card.getByText('rookery-e2e-worker').waitFor();
  await card.getByText('rookery-e2e-api').waitFor();
  await other.context().close();
});

test('a sensitive value is typed into a password field and never shown', async () => {
  const secret = 'e2e-Secret-' + Date.now();
  await search('smtp_pass');
  await row('smtp_pass').getByText('not set').waitFor();
  let form = await openEditor('smtp_pass');
  let input = form.getByLabel('New value for smtp_pass');
  assert.equal(await input.getAttribute('type'), 'password');
  assert.equal(await input.inputValue(), '');
  await input.fill(secret);
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved smtp_pass.').waitFor();
  await row('smtp_pass').getByText('hidden').waitFor();
  assert.equal((await stored('smtp_pass')).value, '***SENSITIVE***');
  assert.equal((await page.content()).includes(secret), false, 'the secret is not in the page');

  // Editing again starts empty: the stored value never reaches the browser.
  form = await openEditor('smtp_pass');
  input = form.getByLabel('New value for smtp_pass');
  assert.equal(await input.inputValue(), '');
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await form.getByRole('button', { name: 'Cancel' }).click();

  await row('smtp_pass').getByRole('button', { name: 'History of smtp_pass' }).click();
  const history = page.getByRole('region', { name: 'History of smtp_pass' });
  await history.getByText(env.email).first().waitFor();
  assert.equal((await history.textContent()).includes(secret), false);
  assert.match(await history.textContent(), /hidden/);
  await row('smtp_pass').getByRole('button', { name: 'History of smtp_pass' }).click();
});

test('the history shows each change, who made it and when', async () => {
  await search('app_name');
  await row('app_name').getByRole('button', { name: 'History of app_name' }).click();
  const history = page.getByRole('region', { name: 'History of app_name' });
  const items = history.getByRole('listitem');
  await items.first().waitFor();
  const first = await items.first().textContent();
  assert.match(first, /rookery-e2e/);
  assert.match(first, new RegExp(env.email.replace('.', '\\.')));
  assert.match(first, /\d{4}/, 'a local date and time');
  await shot(page, 'settings-history-desktop');
  await row('app_name').getByRole('button', { name: 'History of app_name' }).click();
});

test("another admin's change between loading and saving is explained", async () => {
  const form = await openEditor('smtp_from');
  // Another admin saves first, through the API.
  const other = await otherAdmin.call('PUT', '/api/v1/config/smtp_from', { value: 'ops@example.com' });
  assert.equal(other.status, 200);

  await form.getByLabel('New value for smtp_from').fill('web@example.com');
  await form.getByRole('button', { name: 'Save' }).click();
  const conflict = form.locator('.conflict');
  await conflict.getByText('Someone else changed this setting while you were editing.').waitFor();
  assert.match(await conflict.textContent(), /ops@example\.com/);
  assert.match(await conflict.textContent(), /second-admin@example\.com saved it/);
  assert.equal((await stored('smtp_from')).value, 'ops@example.com', 'theirs was not overwritten');
  // The row behind already shows their value.
  await row('smtp_from').getByText('ops@example.com').waitFor();
  await shot(page, 'settings-conflict-desktop');

  await form.getByRole('button', { name: 'Save mine anyway' }).click();
  await page.getByText('Saved smtp_from.').waitFor();
  assert.equal((await stored('smtp_from')).value, 'web@example.com');
  assert.deepEqual(page.problems, []);
});
