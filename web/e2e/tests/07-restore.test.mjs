// The history panel's "Restore this value": a past value comes back as a
// new, audited change; and the page follows changes made elsewhere
// through the configuration event stream, without a reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, env, launch, newPage, signIn } from '../lib.mjs';

let browser, page, api, original;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
  api = await API.login(env.pro);
  original = (await api.get('/api/v1/config/app_name')).json.value;
  await signIn(page, env.pro);
  await page.goto(env.pro + '/settings');
  await page.locator('tr[data-key="app_name"]').waitFor();
});

after(async () => {
  await api?.call('PUT', '/api/v1/config/app_name', { value: original });
  await browser?.close();
});

const row = (key) => page.locator(`tr[data-key="${key}"]`);

async function put(value) {
  const r = await api.call('PUT', '/api/v1/config/app_name', { value });
  assert.equal(r.status, 200, r.text);
  return r.json.config.version;
}

test('"Restore this value" in the history puts a past value back as a new version', async () => {
  const old = await put('restore-me');
  await put('restore-later');
  await page.getByLabel('Search').fill('app_name');
  // The page learnt of both changes from the event stream.
  await row('app_name').getByText('restore-later').waitFor();

  await row('app_name').getByRole('button', { name: 'History of app_name' }).click();
  const history = page.getByRole('region', { name: 'History of app_name' });
  const restore = history.getByRole('button', { name: `Restore app_name to its value of version ${old}` });
  await restore.waitFor();
  // The value in force has nothing to restore.
  assert.equal(await history.getByRole('button', { name: `Restore app_name to its value of version ${old + 1}` }).count(), 0);
  await restore.click();

  await page.getByText(`Restored app_name to its value of version ${old}; it is now version ${old + 2}.`).waitFor();
  await row('app_name').getByText('restore-me').waitFor();
  const now = (await api.get('/api/v1/config/app_name')).json;
  assert.equal(now.value, 'restore-me');
  assert.equal(now.version, old + 2);
  // The restore is itself in the history, on top, by the signed-in admin.
  const top = history.getByRole('listitem').first();
  await top.filter({ hasText: `version ${old + 2}` }).waitFor();
  assert.match(await top.textContent(), new RegExp(env.email.replace('.', '\\.')));
  assert.match(await top.textContent(), /restore-later.*restore-me/);
  await row('app_name').getByRole('button', { name: 'History of app_name' }).click();
});

test('a sensitive key offers no restore: its history keeps no value', async () => {
  const r = await api.call('PATCH', '/api/v1/config', { values: { killkrill_client_secret: 'e2e-secret-value' } });
  assert.equal(r.status, 200, r.text);
  await page.getByLabel('Search').fill('killkrill_client_secret');
  await row('killkrill_client_secret').getByRole('button', { name: 'History of killkrill_client_secret' }).click();
  const history = page.getByRole('region', { name: 'History of killkrill_client_secret' });
  await history.getByRole('listitem').first().waitFor();
  assert.equal(await history.getByRole('button', { name: /Restore/ }).count(), 0);
  assert.equal((await history.textContent()).includes('e2e-secret-value'), false);
  await row('killkrill_client_secret').getByRole('button', { name: 'History of killkrill_client_secret' }).click();
  assert.deepEqual(page.problems, []);
});
