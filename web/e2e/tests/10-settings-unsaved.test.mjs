// The settings page protects unsaved typing and says truthfully what
// happened elsewhere: leaving asks first (links, another row's editor,
// reload), a draft survives an ended session, a removal is confirmed and
// can be undone, and changes by others (or by the same account in another
// tab) are named while an editor is open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, ensureUser, env, launch, newPage, signIn } from '../lib.mjs';

let browser, page, api, otherAdmin;
const touched = ['smtp_from', 'smtp_user', 'killkrill_client_id', 'waddleai_model'];

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
  for (const k of touched) await api?.call('DELETE', '/api/v1/config/' + k);
  await browser?.close();
});

const row = (key) => page.locator(`tr[data-key="${key}"]`);
const editor = (key) => page.getByRole('form', { name: `Edit ${key}` });
const rowNote = (key) => page.locator(`.row-note[data-note-for="${key}"]`);

async function openEditor(key) {
  await page.getByLabel('Search').fill(key);
  await row(key).getByRole('button', { name: `Edit ${key}` }).click();
  await editor(key).waitFor();
  return editor(key);
}

async function put(client, key, value) {
  const r = await client.call('PUT', '/api/v1/config/' + key, { value });
  assert.equal(r.status, 200, r.text);
  return r.json.config;
}

test('a link inside the app asks before unsaved typing is discarded', async () => {
  const form = await openEditor('smtp_user');
  await form.getByLabel('New value for smtp_user').fill('typed-not-saved');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Licence' }).click();
  const dialog = page.getByRole('dialog', { name: 'Leave without saving?' });
  await dialog.getByText('You have changed smtp_user and not saved it.').waitFor();
  await checkA11y(page, 'the leave-without-saving question');
  await dialog.getByRole('button', { name: 'Keep editing smtp_user' }).click();
  assert.equal(new URL(page.url()).pathname, '/settings');
  assert.equal(await form.getByLabel('New value for smtp_user').inputValue(), 'typed-not-saved');
  // Back in the field that was being edited.
  assert.equal(await form.getByLabel('New value for smtp_user').evaluate((el) => el === document.activeElement), true);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Licence' }).click();
  await page.getByRole('dialog', { name: 'Leave without saving?' }).getByRole('button', { name: 'Leave and discard' }).click();
  await page.waitForURL(/\/license$/);
  await page.getByRole('heading', { level: 1, name: /Licen/ }).waitFor();
  assert.equal((await api.get('/api/v1/config/smtp_user')).json.value, '', 'nothing was saved');

  // Back on the settings page, the discarded typing is gone.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await row('smtp_user').waitFor();
  assert.equal(await editor('smtp_user').count(), 0);
});

test("opening another row's editor asks before discarding the first one's typing", async () => {
  const form = await openEditor('smtp_user');
  await form.getByLabel('New value for smtp_user').fill('first-draft');
  await page.getByLabel('Search').fill('smtp');
  await row('smtp_host').getByRole('button', { name: 'Edit smtp_host' }).click();
  const dialog = page.getByRole('dialog', { name: 'Discard your change to smtp_user?' });
  await dialog.getByRole('button', { name: 'Keep editing smtp_user' }).click();
  assert.equal(await editor('smtp_host').count(), 0);
  assert.equal(await editor('smtp_user').getByLabel('New value for smtp_user').evaluate((el) => el === document.activeElement), true);
  assert.equal(await editor('smtp_user').getByLabel('New value for smtp_user').inputValue(), 'first-draft');

  await row('smtp_host').getByRole('button', { name: 'Edit smtp_host' }).click();
  await page.getByRole('dialog', { name: 'Discard your change to smtp_user?' }).getByRole('button', { name: 'Discard and edit smtp_host' }).click();
  await editor('smtp_host').waitFor();
  assert.equal(await editor('smtp_user').count(), 0);
  // Without typing, another editor opens without a question.
  await row('smtp_port').getByRole('button', { name: 'Edit smtp_port' }).click();
  await editor('smtp_port').waitFor();
  assert.equal(await page.getByRole('dialog').count(), 0);
  await editor('smtp_port').getByRole('button', { name: 'Cancel' }).click();
});

test('a search that would hide the row being edited keeps it and what is typed', async () => {
  const form = await openEditor('smtp_user');
  await form.getByLabel('New value for smtp_user').fill('kept-through-search');
  await page.getByLabel('Search').fill('app_name');
  await row('app_name').waitFor();
  assert.equal(await editor('smtp_user').getByLabel('New value for smtp_user').inputValue(), 'kept-through-search');
  await editor('smtp_user').getByRole('button', { name: 'Cancel' }).click();
  await page.getByLabel('Search').fill('app_name');
  assert.equal(await row('smtp_user').count(), 0, 'once closed, the search applies to it again');
});

test('reloading with unsaved typing asks the browser’s question', async () => {
  const form = await openEditor('smtp_user');
  await form.getByLabel('New value for smtp_user').fill('reload-draft');
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.type();
    void d.accept();
  });
  await page.reload();
  await row('smtp_user').waitFor();
  assert.equal(asked, 'beforeunload');
  // The page was left on purpose: the draft went with it.
  assert.equal(await editor('smtp_user').count(), 0);
});

test('after the session ends mid-edit, signing in again brings the editor back with the typed value', async () => {
  const form = await openEditor('smtp_from');
  await form.getByLabel('New value for smtp_from').fill('after-sign-in@example.com');
  // The session ends (expired, signed out elsewhere): the next call is refused.
  await page.context().clearCookies();
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill(env.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const back = editor('smtp_from');
  await back.waitFor();
  assert.equal(await back.getByLabel('New value for smtp_from').inputValue(), 'after-sign-in@example.com');
  await back.getByText('Your unsaved value was kept. It is not saved yet.').waitFor();
  await checkA11y(page, 'an editor brought back after signing in');
  await back.getByRole('button', { name: 'Save' }).click();
  await rowNote('smtp_from').getByText('Saved smtp_from.').waitFor();
  assert.equal((await api.get('/api/v1/config/smtp_from')).json.value, 'after-sign-in@example.com');
});

test("the browser's Back button keeps the typing for when the page is opened again", async () => {
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Licence' }).click();
  await page.waitForURL(/\/license$/);
  await nav.getByRole('link', { name: 'Settings' }).click();
  await row('smtp_user').waitFor();
  const form = await openEditor('smtp_user');
  await form.getByLabel('New value for smtp_user').fill('typed-before-back');
  await page.goBack();
  await page.waitForURL(/\/license$/);
  await page.goForward();
  const back = editor('smtp_user');
  await back.waitFor();
  assert.equal(await back.getByLabel('New value for smtp_user').inputValue(), 'typed-before-back');
  await back.getByText('Your unsaved value was kept. It is not saved yet.').waitFor();
  await back.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await api.get('/api/v1/config/smtp_user')).json.value, '', 'nothing was saved');
});

test('removing a stored value asks first, naming the key, and can be undone', async () => {
  await put(api, 'killkrill_client_id', 'client-before-removal');
  await page.getByLabel('Search').fill('killkrill_client_id');
  await row('killkrill_client_id').getByText('client-before-removal').waitFor();
  const form = await openEditor('killkrill_client_id');
  await form.getByRole('button', { name: 'Remove stored value' }).click();
  const dialog = page.getByRole('dialog', { name: 'Remove the stored value of killkrill_client_id?' });
  await dialog.getByText('killkrill_client_id then takes the value of the environment variable KILLKRILL_CLIENT_ID when it is set').waitFor();
  await checkA11y(page, 'the removal question');
  // Keeping it changes nothing.
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  assert.equal((await api.get('/api/v1/config/killkrill_client_id')).json.value, 'client-before-removal');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Remove stored value', 'focus is back on the button');

  await form.getByRole('button', { name: 'Remove stored value' }).click();
  await page.getByRole('dialog', { name: 'Remove the stored value of killkrill_client_id?' }).getByRole('button', { name: 'Remove stored value' }).click();
  const note = rowNote('killkrill_client_id');
  await note.getByText('Removed the stored value of killkrill_client_id; it now comes from its default.').waitFor();
  assert.equal((await api.get('/api/v1/config/killkrill_client_id')).json.source, 'default');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit killkrill_client_id');
  // The row does not claim the key was never changed; the history lists the changes.
  assert.equal((await row('killkrill_client_id').textContent()).includes('never changed'), false);
  await row('killkrill_client_id').getByText('No stored value').waitFor();
  await row('killkrill_client_id').getByRole('button', { name: 'History of killkrill_client_id' }).click();
  const history = page.getByRole('region', { name: 'History of killkrill_client_id' });
  await history.getByRole('listitem').filter({ hasText: 'removed' }).first().waitFor();
  await checkA11y(page, 'a removal with its undo and the history');
  await row('killkrill_client_id').getByRole('button', { name: 'History of killkrill_client_id' }).click();

  await note.getByRole('button', { name: /^Undo/ }).click();
  await note.getByText('Put back the stored value of killkrill_client_id.').waitFor();
  const back = (await api.get('/api/v1/config/killkrill_client_id')).json;
  assert.equal(back.value, 'client-before-removal');
  assert.equal(back.source, 'database');
});

test('the undo is offered for a few seconds only', async () => {
  await put(api, 'killkrill_client_id', 'client-undo-timeout');
  await page.getByLabel('Search').fill('killkrill_client_id');
  await row('killkrill_client_id').getByText('client-undo-timeout').waitFor();
  const form = await openEditor('killkrill_client_id');
  await form.getByRole('button', { name: 'Remove stored value' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove stored value' }).click();
  const note = rowNote('killkrill_client_id');
  await note.getByRole('button', { name: /^Undo/ }).waitFor();
  await note.getByRole('button', { name: /^Undo/ }).waitFor({ state: 'detached', timeout: 13_000 });
  await note.getByText('Removed the stored value of killkrill_client_id').waitFor();
});

test("a removal after someone else's change removes nothing and offers no stale save", async () => {
  await put(api, 'smtp_from', 'mine@example.com');
  await page.getByLabel('Search').fill('smtp_from');
  await row('smtp_from').getByText('mine@example.com').waitFor();
  // This browser misses the live event, as a slow connection would.
  await page.route('**/api/v1/config/events', (r) => r.fulfill({ status: 503, body: '' }));
  await page.reload();
  await row('smtp_from').waitFor();
  const form = await openEditor('smtp_from');
  await put(otherAdmin, 'smtp_from', 'theirs@example.com');
  await form.getByRole('button', { name: 'Remove stored value' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove stored value' }).click();
  const conflict = form.locator('.conflict');
  await conflict.getByText(/second-admin@example\.com changed this setting at .* while you were editing\./).waitFor();
  await conflict.getByText('Nothing was removed: your removal was for the value you opened.').waitFor();
  assert.equal((await api.get('/api/v1/config/smtp_from')).json.value, 'theirs@example.com');
  // The field shows their value and nothing offers to save the stale one.
  assert.equal(await form.getByLabel('New value for smtp_from').inputValue(), 'theirs@example.com');
  assert.equal(await form.getByRole('button', { name: 'Save mine anyway' }).count(), 0);
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await checkA11y(page, 'a refused removal');
  await conflict.getByRole('button', { name: 'Keep their value' }).click();
  assert.equal(await editor('smtp_from').count(), 0);
  await page.unroute('**/api/v1/config/events');
  await page.reload();
  await row('smtp_from').waitFor();
});

test('a removal by another admin while editing says who and when', async () => {
  await put(api, 'waddleai_model', 'model-a');
  await page.getByLabel('Search').fill('waddleai_model');
  await row('waddleai_model').getByText('model-a').waitFor();
  const form = await openEditor('waddleai_model');
  await form.getByLabel('New value for waddleai_model').fill('model-typed');
  const r = await otherAdmin.call('DELETE', '/api/v1/config/waddleai_model');
  assert.equal(r.status, 200, r.text);
  const conflict = form.locator('.conflict');
  await conflict.getByText(/second-admin@example\.com removed the stored value of this setting at .* while you were editing\./).waitFor();
  assert.equal(await form.getByLabel('New value for waddleai_model').inputValue(), 'model-typed');
  await form.getByRole('button', { name: 'Cancel' }).click();
});

test('the same account in another tab is "you", not someone else', async () => {
  await put(api, 'smtp_from', 'tab-one@example.com');
  await page.getByLabel('Search').fill('smtp_from');
  await row('smtp_from').getByText('tab-one@example.com').waitFor();
  const form = await openEditor('smtp_from');
  // Pristine editor: it takes the new value and says so.
  await put(api, 'smtp_from', 'tab-two@example.com');
  const conflict = form.locator('.conflict');
  await conflict.getByText(/You changed this setting in another tab or window at .* while you were editing\./).waitFor();
  assert.equal((await conflict.textContent()).includes('Someone'), false);
  await conflict.getByText('The field now shows this value.').waitFor();
  assert.equal(await form.getByLabel('New value for smtp_from').inputValue(), 'tab-two@example.com');
  await form.getByRole('button', { name: 'Cancel' }).click();
  assert.deepEqual(page.problems, []);
});
