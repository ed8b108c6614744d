// Finding settings and reading them right: search by category and
// description, addresses for a search and for one key, the category index,
// where each value comes from, the JSON editor's error position, focus that
// stays visible below the sticky search bar, and the test email.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, env, fake, launch, newPage, phone, signIn } from '../lib.mjs';

let browser, page, api;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
  api = await API.login(env.pro);
  await signIn(page, env.pro);
});

after(async () => {
  await api?.call('DELETE', '/api/v1/config/marchproxy_extras');
  await api?.call('DELETE', '/api/v1/config/product_name');
  await browser?.close();
});

const row = (key) => page.locator(`tr[data-key="${key}"]`);
const editor = (key) => page.getByRole('form', { name: `Edit ${key}` });

async function openSettings(suffix = '') {
  await page.goto(env.pro + '/settings' + suffix);
  await page.locator('tr[data-key]').first().waitFor();
}

async function openEditor(key) {
  await page.getByLabel('Search').fill(key);
  await row(key).getByRole('button', { name: `Edit ${key}` }).click();
  await editor(key).waitFor();
  return editor(key);
}

// WCAG relative luminance and contrast ratio of two computed colours.
const rgb = (s) => s.match(/[\d.]+/g).slice(0, 3).map(Number);
function luminance([r, g, b]) {
  const [R, G, B] = [r, g, b].map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * R + 0.7152 * G + 0.0722 * B;
}
function contrast(a, b) {
  const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

test('search covers categories and descriptions, and lives in the address', async () => {
  await openSettings('?q=smtp');
  assert.equal(await page.getByLabel('Search').inputValue(), 'smtp');
  await row('smtp_port').waitFor();
  assert.equal(await row('app_name').count(), 0);

  // "email" is the category of the SMTP keys, not in their names.
  await page.getByLabel('Search').fill('email');
  await row('smtp_host').waitFor();
  await row('smtp_pass').waitFor();
  assert.equal(new URL(page.url()).search, '?q=email');
  // Descriptions count too.
  await page.getByLabel('Search').fill('sender of outgoing');
  await row('smtp_from').waitFor();
  await page.getByLabel('Search').fill('');
  assert.equal(new URL(page.url()).search, '');
  await checkA11y(page, 'the settings page from an address with a search');
});

test('an address with #key shows that key below the search bar, even when a search hid it', async () => {
  await openSettings('?q=app_name#smtp_port');
  const target = row('smtp_port');
  await target.waitFor();
  assert.match(await target.getAttribute('class'), /is-target/);
  const bar = await page.locator('.toolbar').boundingBox();
  const box = await target.boundingBox();
  assert.ok(box.y >= bar.y + bar.height - 1, `the row (top ${box.y}) is below the search bar (bottom ${bar.y + bar.height})`);
  assert.ok(box.y < page.viewportSize().height, 'the row is on screen');
  assert.ok((await page.evaluate(() => window.scrollY)) > 0, 'the page scrolled to it');
  // Searching afterwards is not undone by the address.
  await page.getByLabel('Search').fill('app_name');
  await row('app_name').waitFor();
  assert.equal(await row('smtp_port').count(), 0);
  assert.equal(await page.getByLabel('Search').inputValue(), 'app_name');
});

test('the category index jumps to each category, which stops below the search bar', async () => {
  await openSettings();
  const index = page.getByRole('navigation', { name: 'Categories on this page' });
  await index.getByRole('link', { name: /^Email/ }).click();
  await page.waitForFunction(() => window.location.hash === '#cat-email');
  await page.waitForFunction(() => {
    const h = document.getElementById('cat-email');
    const bar = document.querySelector('.toolbar');
    if (!h || !bar) return false;
    const top = h.getBoundingClientRect().top;
    return top >= bar.getBoundingClientRect().bottom - 1 && top < 400;
  });
  await checkA11y(page, 'the settings page scrolled to a category');
});

test('where a value comes from: stored, copied from the environment, default; a differing variable is explained', async () => {
  await openSettings();
  // LICENSE_KEY was copied into the database at the first start.
  await page.getByLabel('Search').fill('license_key');
  await row('license_key').getByText('from LICENSE_KEY', { exact: true }).waitFor();
  await row('license_key').getByText('copied from LICENSE_KEY', { exact: true }).waitFor();
  let form = await openEditor('license_key');
  await form.getByText('Copied from the environment variable LICENSE_KEY at the first start and stored').waitFor();
  await form.getByRole('button', { name: 'Cancel' }).click();

  await page.getByLabel('Search').fill('waddleai_timeout');
  await row('waddleai_timeout').getByText('default', { exact: true }).waitFor();

  // A URL's scheme is checked as it is typed, from the key's constraints.
  form = await openEditor('waddleai_url');
  await form.getByLabel('New value for waddleai_url').fill('ftp://waddleai:8080');
  await form.locator('.field-error').getByText('Enter an address starting with http:// or https://.').waitFor();
  await form.getByLabel('New value for waddleai_url').fill('');
  await form.locator('.field-error').getByText('Enter a value: this setting cannot be empty.').waitFor();
  await form.getByLabel('New value for waddleai_url').fill('waddleai');
  await form.locator('.field-error').getByText('Enter a full address starting with http:// or https://.').waitFor();
  await form.getByRole('button', { name: 'Cancel' }).click();

  // A saved value wins over PRODUCT_NAME, which the page says is ignored.
  const r = await api.call('PUT', '/api/v1/config/product_name', { value: 'rookery-renamed' });
  assert.equal(r.status, 200, r.text);
  await page.getByLabel('Search').fill('product_name');
  await row('product_name').getByText('stored', { exact: true }).waitFor();
  await row('product_name')
    .getByText('The stored value is in force. PRODUCT_NAME is now set to something else, and is ignored while a value is stored: remove the stored value to use it.')
    .waitFor();
  form = await openEditor('product_name');
  await form.getByText('PRODUCT_NAME is now set to something else').waitFor();
  await checkA11y(page, 'a stored value whose variable differs');
  await form.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await api.call('DELETE', '/api/v1/config/product_name')).status, 200);
  await row('product_name').getByText('from PRODUCT_NAME', { exact: true }).waitFor();
});

test('the JSON editor shows where a syntax error is, keeps Format, and names the {app_name}- rule', async () => {
  await openSettings();
  const appName = (await api.get('/api/v1/config/app_name')).json.value;
  const form = await openEditor('marchproxy_extras');
  await form.getByText(`Service names follow the {app_name}-{service} rule: with app_name “${appName}” each name starts with “${appName}-”`).waitFor();
  const input = form.getByLabel('New value for marchproxy_extras');
  const text = '{\n  "services": [\n    {"name": "x",}\n  ]\n}';
  await input.fill(text);
  const err = form.locator('.field-error');
  await err.getByText('This is not valid JSON at line 3, column 18: There is a comma before this closing brace; remove it.').waitFor();
  // The line is shown with a caret under the column.
  assert.equal(await err.locator('.json-mark').textContent(), '    {"name": "x",}\n                 ^');
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
  await checkA11y(page, 'a JSON syntax error');
  await err.getByRole('button', { name: 'Go to line 3, column 18' }).click();
  const offset = text.indexOf(',}') + 1;
  assert.deepEqual(
    await input.evaluate((el) => [document.activeElement === el, el.selectionStart]),
    [true, offset],
  );
  // Format stays; with an error it leads to the error instead.
  await input.evaluate((el) => el.setSelectionRange(0, 0));
  await form.getByRole('button', { name: 'Format' }).click();
  assert.equal(await input.evaluate((el) => el.selectionStart), offset);
  await input.fill('{"services":[],"mappings":[]}');
  await form.getByRole('button', { name: 'Format' }).click();
  assert.match(await input.inputValue(), /^\{\n {2}"services": \[\],\n/);
  await form.getByRole('button', { name: 'Cancel' }).click();
});

test('a long stored JSON value scrolls in a box the keyboard can reach', async () => {
  const appName = (await api.get('/api/v1/config/app_name')).json.value;
  const services = Array.from({ length: 14 }, (_, i) => ({ name: `${appName}-svc${i}`, ip_fqdn: `svc${i}`, port: 9000 + i, auth_type: 'none' }));
  const r = await api.call('PUT', '/api/v1/config/marchproxy_extras', { value: { services, mappings: [] } });
  assert.equal(r.status, 200, r.text);
  await openSettings('?q=marchproxy_extras');
  const box = row('marchproxy_extras').getByRole('region', { name: 'Value of marchproxy_extras' });
  await box.waitFor();
  assert.ok(await box.evaluate((el) => el.scrollHeight > el.clientHeight), 'the value scrolls');
  assert.equal(await box.getAttribute('tabindex'), '0');
  await checkA11y(page, 'a long JSON value');
});

test('the focus ring stands out on light backgrounds and is never hidden under the sticky search bar', async () => {
  await openSettings();
  await page.getByLabel('Search').focus();
  await page.keyboard.press('Tab');
  const ring = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor };
  });
  assert.equal(ring.style, 'solid');
  assert.ok(ring.width >= 2);
  const page_ = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  for (const bg of [page_, 'rgb(255, 255, 255)']) {
    const c = contrast(ring.color, bg);
    assert.ok(c >= 3, `focus ring ${ring.color} on ${bg}: ${c.toFixed(2)}:1`);
  }

  // Forward through the page, then back: every focused control in the
  // settings sections shows fully below the search bar.
  const hidden = [];
  for (const key of ['Tab', 'Shift+Tab']) {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press(key);
      const where = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || !el.closest('.category')) return null;
        const r = el.getBoundingClientRect();
        const bar = document.querySelector('.toolbar').getBoundingClientRect();
        return { what: el.getAttribute('aria-label') || el.textContent, top: r.top, bottom: r.bottom, bar: bar.bottom, height: window.innerHeight };
      });
      if (where && (where.top < where.bar - 1 || where.bottom > where.height + 1)) hidden.push(`${key} ${i}: ${where.what} at ${where.top}`);
    }
  }
  assert.deepEqual(hidden, []);
});

test('the "Off" of a switched-off setting is readable', async () => {
  await openSettings('?q=killkrill_enabled');
  const off = row('killkrill_enabled').getByText('Off', { exact: true });
  const [fg, bg] = await off.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
  assert.ok(contrast(fg, bg) >= 4.5, `"Off" ${fg} on ${bg}`);
  await checkA11y(page, 'a switched-off setting');
});

test('on a phone: the page and an editor with a message pass axe-core, without sideways scrolling', async () => {
  const small = await newPage(browser, { viewport: phone, isMobile: true });
  try {
    await signIn(small, env.pro);
    await small.goto(env.pro + '/settings?q=smtp');
    await small.locator('tr[data-key="smtp_from"]').waitFor();
    await checkA11y(small, 'the settings page on a phone');
    await small.locator('tr[data-key="smtp_from"]').getByRole('button', { name: 'Edit smtp_from' }).click();
    const form = small.getByRole('form', { name: 'Edit smtp_from' });
    await form.getByLabel('New value for smtp_from').fill('not an address');
    await form.getByText('Enter an email address, such as ops@example.com.').waitFor();
    await form.getByLabel('New value for smtp_from').fill('');
    assert.equal(await form.locator('.field-error').count(), 0, 'the sender may be empty');
    await checkA11y(small, 'an editor with a message on a phone');
    // No sideways scrolling.
    assert.ok(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await form.getByRole('button', { name: 'Cancel' }).click();
  } finally {
    await small.context().close();
  }
});

test('"Send test email" uses the values on the page, unsaved ones included, and explains a failure', async () => {
  await openSettings('?q=smtp');
  const panel = page.getByRole('form', { name: 'Send a test email' });
  const to = panel.getByLabel('Send it to');
  assert.equal(await to.inputValue(), env.email, 'the signed-in admin by default');
  await to.fill('settings-test@example.com');
  const received = async () =>
    (await (await fetch(env.control + '/smtp/messages')).json()).messages.filter((m) => m.to.includes('settings-test@example.com'));
  const before = (await received()).length;
  // A sender typed and not saved goes with the test.
  const form = await openEditor('smtp_from');
  await form.getByLabel('New value for smtp_from').fill('unsaved-sender@example.com');
  await page.getByLabel('Search').fill('smtp');
  await panel.getByText('including what you typed for smtp_from and have not saved').waitFor();
  await panel.getByRole('button', { name: 'Send test email' }).click();
  await panel.getByText('Test email sent to settings-test@example.com').waitFor();
  const messages = await received();
  assert.equal(messages.length, before + 1);
  assert.match(messages.at(-1).from, /unsaved-sender@example\.com/);
  await panel.getByText('Server reply').click();
  await checkA11y(page, 'a test email sent');
  assert.notEqual((await api.get('/api/v1/config/smtp_from')).json.value, 'unsaved-sender@example.com', 'nothing was saved');

  await fake('/smtp/down');
  try {
    await panel.getByRole('button', { name: 'Send test email' }).click();
    const failed = panel.locator('.msg-error');
    await failed.waitFor();
    assert.match(await failed.textContent(), /connect/i);
    await failed.getByText('Technical detail').click();
    await checkA11y(page, 'a test email that failed');
  } finally {
    await fake('/smtp/up');
  }
  await editor('smtp_from').getByRole('button', { name: 'Cancel' }).click();
  // The refused send's 502 is the answer under test, not a page problem.
  assert.deepEqual(
    page.problems.filter((p) => !/status of 502/.test(p)),
    [],
  );
});
