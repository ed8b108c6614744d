// The settings page: search and filter, an editor for each type, the
// server's validation messages, masked secrets, history and conflicts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, launch, newPage, shot, signIn } from '../lib.mjs';

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
  // The SMTP password set below would otherwise be offered to the test receiver.
  await api?.call('DELETE', '/api/v1/config/smtp_pass');
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
  const { total, configs } = (await api.get('/api/v1/config')).json;
  const emailKeys = configs.filter((c) => c.category === 'email').map((c) => c.key);
  await checkA11y(page, 'the settings page');
  await search('smtp');
  await row('smtp_port').waitFor();
  assert.equal(await row('app_name').count(), 0);
  // Every email key matches: the category's description names SMTP.
  for (const k of emailKeys) assert.equal(await row(k).count(), 1, k);
  const n = await page.locator('tbody tr[data-key]').count();
  await page.getByText(`${n} of ${total} settings`).waitFor();

  // Searching the description works too.
  await search('licence server');
  await row('license_server_url').waitFor();

  await search('');
  await page.getByLabel('Category').selectOption('email');
  assert.equal(await page.locator('tbody tr[data-key]').count(), emailKeys.length);
  assert.equal(await page.getByRole('heading', { level: 2, name: /Integration/ }).count(), 0);
  await page.getByLabel('Category').selectOption('');

  await search('no-such-setting-xyz');
  await page.getByText('No setting matches').waitFor();
  await checkA11y(page, 'a search without matches');
  await page.getByRole('button', { name: 'Show all settings' }).click();
  assert.equal(await page.locator('tbody tr[data-key]').count(), total);
});

test('a string: a value outside the rule is refused as it is typed, a good one is saved', async () => {
  const form = await openEditor('app_name');
  const input = form.getByLabel('New value for app_name');
  assert.equal(await input.inputValue(), (await stored('app_name')).value);
  // Nothing typed yet: Save is off and says why.
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await form.getByText('Nothing to save: this is the value in force.').waitFor();

  await input.fill('Bad Name!');
  const err = form.locator('.field-error');
  await err.waitFor();
  assert.match(await err.textContent(), /lower-case letters, digits and hyphens/);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await form.getByText('Correct the value above to save it.').waitFor();
  await checkA11y(page, 'the app_name editor with a refused value');
  assert.equal((await stored('app_name')).value, 'rookery', 'nothing was saved');

  await input.fill('rookery-e2e');
  await form.getByRole('button', { name: 'Save' }).click();
  // The confirmation is at the row, not at the top of the page.
  const saved = page.locator('.row-note[data-note-for="app_name"]');
  await saved.getByText('Saved app_name.').waitFor();
  assert.equal(await editor('app_name').count(), 0, 'editor closed');
  const box = await saved.boundingBox();
  assert.ok(box && box.y > 0 && box.y + box.height <= (page.viewportSize()?.height ?? 0), 'the confirmation is on screen');
  await row('app_name').getByText('rookery-e2e').waitFor();
  await row('app_name').getByText(`by ${env.email}`).waitFor();
  const s = await stored('app_name');
  assert.equal(s.value, 'rookery-e2e');
  assert.equal(s.updated_by, env.email);
  // Focus goes back to the row's Edit button.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit app_name');
});

test('an integer: checked on every keystroke against its range, messages never stale', async () => {
  const form = await openEditor('smtp_port');
  const input = form.getByLabel('New value for smtp_port');
  // A text field with a numeric keyboard: what is typed is what is checked.
  assert.equal(await input.getAttribute('inputmode'), 'numeric');
  const err = form.locator('.field-error');
  const save = form.getByRole('button', { name: 'Save' });
  await input.fill('70000');
  await err.filter({ hasText: 'Enter a number from 1 to 65535.' }).waitFor();
  assert.equal(await save.isDisabled(), true);
  // The message follows the text: 1e3 is not "out of range", it is not digits.
  await input.fill('1e3');
  await err.filter({ hasText: 'Enter a whole number using digits only, such as 25.' }).waitFor();
  assert.equal(await err.filter({ hasText: '65535' }).count(), 0);
  await input.fill('abc');
  await err.filter({ hasText: 'Enter a whole number using digits only' }).waitFor();
  await form.getByText('Correct the value above to save it.').waitFor();
  assert.equal((await form.textContent()).includes('The value '), false);
  await input.fill('25');
  assert.equal(await err.count(), 0);
  assert.equal(await save.isDisabled(), false);

  await input.fill('2525');
  await save.click();
  await page.getByText('Saved smtp_port.').waitFor();
  await row('smtp_port').getByText('2525').waitFor();
  assert.equal((await stored('smtp_port')).value, '2525');
});

test('removing a stored value falls back to the environment variable or the default', async () => {
  const form = await openEditor('smtp_port');
  await form.getByRole('button', { name: 'Remove stored value' }).click();
  const dialog = page.getByRole('dialog', { name: 'Remove the stored value of smtp_port?' });
  await dialog.getByRole('button', { name: 'Remove stored value' }).click();
  const note = page.locator('.row-note[data-note-for="smtp_port"]');
  await note.getByText(/^Removed the stored value of smtp_port; it now comes from /).waitFor();
  const s = await stored('smtp_port');
  // The server under test may set SMTP_PORT (its email goes to a test receiver).
  if (s.source === 'environment') {
    await note.getByText('it now comes from its environment variable SMTP_PORT.').waitFor();
    await row('smtp_port').getByText('from SMTP_PORT', { exact: true }).waitFor();
  } else {
    assert.equal(s.source, 'default');
    assert.equal(s.value, '587');
    await note.getByText('it now comes from its default.').waitFor();
    await row('smtp_port').getByText('default', { exact: true }).waitFor();
  }
  await row('smtp_port').getByText(s.value, { exact: true }).waitFor();
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
  await form.getByText('This is not valid JSON at line 1, column 15').waitFor();
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);

  // Valid JSON that MarchProxy would refuse: the server names the problem.
  await input.fill('{"services": [{"name": "rookery-e2e-worker", "ip_fqdn": "worker", "port": 70000, "auth_type": "none"}]}');
  assert.equal(await form.getByText('This is not valid JSON').count(), 0);
  await form.getByRole('button', { name: 'Save' }).click();
  // A sentence about the save; the server's own text behind a disclosure.
  const refused = form.locator('.field-error');
  await refused.getByText('Not saved: services[0].port: 70000 is not a port.', { exact: true }).waitFor();
  assert.equal((await refused.textContent()).includes('The value '), false);
  await refused.getByText('What the server said').click();
  await refused.locator('details code').filter({ hasText: 'invalid MarchProxy configuration: services[0].port: 70000 is not a port' }).waitFor();
  await checkA11y(page, 'a JSON value refused by the server');
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
  await form.getByText('Type a new value to save it.').waitFor();
  await form.getByRole('button', { name: 'Cancel' }).click();

  await row('smtp_pass').getByRole('button', { name: 'History of smtp_pass' }).click();
  const history = page.getByRole('region', { name: 'History of smtp_pass' });
  await history.getByText(env.email).first().waitFor();
  assert.equal((await history.textContent()).includes(secret), false);
  assert.match(await history.textContent(), /hidden/);
  await row('smtp_pass').getByRole('button', { name: 'History of smtp_pass' }).click();
});

test('changing where a secret goes asks for the secret again, and saves both together', async () => {
  const put = await api.call('PUT', '/api/v1/config/smtp_pass', { value: 'e2e-reentry-secret' });
  assert.equal(put.status, 200, put.text);
  try {
    const form = await openEditor('smtp_host');
    await form.getByLabel('New value for smtp_host').fill('mail.example.com');
    await form.getByRole('button', { name: 'Save' }).click();
    const again = form.getByRole('group', { name: 'Type smtp_pass again' });
    await again.getByText('Changing smtp_host would send smtp_pass to a new place').waitFor();
    // The API's advice about PATCH requests is not shown to a person.
    assert.equal((await form.textContent()).includes('PATCH'), false);
    await form.getByText('Type smtp_pass again to save.').waitFor();
    assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
    await checkA11y(page, 'a secret asked for again');
    await again.getByLabel('smtp_pass').fill('e2e-reentry-secret');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('.row-note[data-note-for="smtp_host"]').getByText('Saved smtp_host.').waitFor();
    assert.equal((await stored('smtp_host')).value, 'mail.example.com');
    const h = (await api.get('/api/v1/config/smtp_pass/history?limit=1')).json.history[0];
    assert.equal(h.actor, env.email, 'the secret was saved with it');
  } finally {
    await api.call('DELETE', '/api/v1/config/smtp_pass');
    await api.call('DELETE', '/api/v1/config/smtp_host');
  }
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
  // Values sit on the line's baseline, not raised as inline blocks.
  assert.equal(await history.locator('.value-text').first().evaluate((el) => getComputedStyle(el).display), 'inline');
  await checkA11y(page, 'a history');
  await shot(page, 'settings-history-desktop');
  await row('app_name').getByRole('button', { name: 'History of app_name' }).click();
});

test("another admin's change while editing is named at once, and saving then is on purpose", async () => {
  const form = await openEditor('smtp_from');
  const input = form.getByLabel('New value for smtp_from');
  await input.fill('web@example.com');
  // Another admin saves meanwhile, through the API; the event stream brings it.
  const other = await otherAdmin.call('PUT', '/api/v1/config/smtp_from', { value: 'ops@example.com' });
  assert.equal(other.status, 200);

  const conflict = form.locator('.conflict');
  await conflict.getByText(/second-admin@example\.com changed this setting at .* while you were editing\./).waitFor();
  assert.match(await conflict.textContent(), /It is now ops@example\.com\./);
  assert.equal(await input.inputValue(), 'web@example.com', 'what was typed stays');
  assert.equal((await stored('smtp_from')).value, 'ops@example.com', 'theirs was not overwritten');
  // The row behind already shows their value.
  await row('smtp_from').getByText('ops@example.com').waitFor();
  await checkA11y(page, 'a change by another admin while editing');
  await shot(page, 'settings-conflict-desktop');

  await form.getByRole('button', { name: 'Save mine anyway' }).click();
  await page.getByText('Saved smtp_from.').waitFor();
  assert.equal((await stored('smtp_from')).value, 'web@example.com');
  assert.deepEqual(page.problems, []);
});
