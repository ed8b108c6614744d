// The licence page says what "Check now" did and what development mode
// means; the integrations page tests each connection, links to its
// settings and says failures as sentences; the AI page warns before anyone
// types when the gateway cannot answer. axe-core checks every state.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, env, fake, launch, newPage, phone, shot, signIn } from '../lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** disclosed opens a result's "Technical detail" and returns its text. */
async function disclosed(block) {
  await block.getByText('Technical detail').click();
  return block.locator('.detail-text').textContent();
}

test('check now says the licence server could not be reached and since when the cache stands in', async () => {
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/license');
  await page.getByRole('button', { name: 'Check now' }).click();
  const valid = page.locator('[data-outcome="valid"]');
  await valid.getByText('The licence server confirmed the licence just now.').waitFor();
  const confirmed = await page.getByTestId('last-confirmed').locator('time').getAttribute('datetime');
  assert.ok(confirmed, 'a confirmed licence shows when it was confirmed');

  await fake('/license/fail?status=503');
  try {
    await page.getByRole('button', { name: 'Check now' }).click();
    const down = page.locator('[data-outcome="unreachable"]');
    await down.getByText(/could not be reached, so nothing was confirmed/).waitFor();
    assert.match(await down.textContent(), /stays in force from the cache/);
    assert.doesNotMatch(await down.locator('.msg').textContent(), /confirmed the licence just now/);
    // The last confirmation is the earlier one; the check itself is newer.
    assert.equal(await page.getByTestId('last-confirmed').locator('time').getAttribute('datetime'), confirmed);
    const checked = await page.getByTestId('last-checked').locator('time').getAttribute('datetime');
    assert.ok(Date.parse(checked) > Date.parse(confirmed), `checked ${checked} after confirmed ${confirmed}`);
    assert.match(await disclosed(down), /503/);
    await page.getByTestId('source').filter({ hasText: 'Cached' }).waitFor();
    await checkA11y(page, 'licence page, server unreachable, detail open');
  } finally {
    await fake('/license/ok');
    const r = await (await API.login(env.pro)).call('POST', '/api/v1/license/refresh');
    assert.equal(r.json?.outcome, 'valid');
  }
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('development mode: every feature on, nothing enforced, nothing checked, only what rookery has ticked', async () => {
  const page = await newPage(browser);
  await signIn(page, env.development);
  await page.goto(env.development + '/license');
  const dev = page.getByTestId('development');
  await dev.getByRole('heading', { name: 'Development mode: every feature on, nothing enforced' }).waitFor();
  assert.equal(await dev.getByRole('link', { name: 'release_mode' }).getAttribute('href'), '/settings#release_mode');
  assert.equal(await dev.getByRole('link', { name: 'license_key' }).getAttribute('href'), '/settings#license_key');
  // No tier is claimed and no usage is called unlimited.
  assert.equal((await page.getByTestId('tier').textContent()).trim(), 'None');
  assert.doesNotMatch(await page.locator('main').textContent(), /Community|unlimited/i);
  assert.equal(await page.getByRole('meter').count(), 0);

  // A feature is ticked only when rookery provides it.
  const view = (await (await API.login(env.development)).get('/api/v1/license')).json;
  const implemented = new Set(view.implemented);
  assert.ok(!implemented.has('ai_training'), 'rookery has nothing behind ai_training');
  for (const f of Object.keys(view.entitlements)) {
    const want = implemented.has(f) ? 'on' : 'absent';
    assert.equal(await page.locator(`li[data-feature="${f}"].${want}`).count(), 1, `${f} is ${want}`);
  }
  await page.locator('li[data-feature="ai_training"] .sub').getByText('not available in rookery').waitFor();
  await checkA11y(page, 'licence page, development mode');
  await shot(page, 'license-development-desktop');

  // Nothing to check: it says so, and "Last checked" stays "Never".
  await page.getByRole('button', { name: 'Check now' }).click();
  const result = page.locator('[data-outcome="development"]');
  await result.getByText(/no licence key is set, so nothing was checked/).waitFor();
  assert.doesNotMatch(await result.textContent(), /confirmed/);
  assert.equal((await page.getByTestId('last-checked').textContent()).trim(), 'Never (no licence key is set)');
  assert.equal((await page.getByTestId('last-confirmed').textContent()).trim(), 'Never');
  await checkA11y(page, 'licence page, development mode, after Check now');

  await dev.getByRole('link', { name: 'release_mode' }).click();
  await page.waitForURL((u) => u.pathname === '/settings' && u.hash === '#release_mode');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('licence page on a phone, development mode and professional', async () => {
  for (const base of [env.development, env.pro]) {
    const page = await newPage(browser, { viewport: phone, isMobile: true });
    await signIn(page, base);
    await page.goto(base + '/license');
    await page.getByTestId('tier').waitFor();
    await page.getByRole('button', { name: 'Check now' }).click();
    await page.locator('[data-outcome]').waitFor();
    await checkA11y(page, `licence page on a phone (${base === env.pro ? 'professional' : 'development'})`);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test('integrations: each card links to its settings and tests its connection', async () => {
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/integrations');

  const ai = page.locator('[data-integration="waddleai"]');
  await ai.getByRole('button', { name: 'Test connection to WaddleAI' }).click();
  await ai.locator('[data-ok="true"]').getByText(/accepted the API key/).waitFor();

  const lic = page.locator('[data-integration="license"]');
  await lic.getByRole('button', { name: 'Test connection to Licence server' }).click();
  await lic.locator('[data-ok="true"]').getByText('The licence server confirmed the licence just now.').waitFor();

  // Email goes to the fakes' SMTP receiver: the outbox's counts, and a
  // connection test that sends nothing.
  const email = page.locator('[data-integration="email"]');
  for (const label of ['Queued', 'Sent', 'Failed']) await email.getByText(label, { exact: true }).waitFor();
  await email.getByRole('button', { name: 'Test connection to the SMTP server' }).click();
  await email.locator('[data-ok="true"]').getByText(/accepted the connection \(no sign-in is set\)\. No email was sent\./).waitFor();

  // Nothing runs MarchProxy here: a sentence, with the chain behind a disclosure.
  const mp = page.getByTestId('test-marchproxy');
  await page.getByRole('button', { name: 'Test connection to MarchProxy' }).click();
  const failed = mp.locator('[data-ok="false"]');
  await failed.getByText(/The MarchProxy API at \S+ could not be reached: nothing accepted the connection/).waitFor();
  assert.doesNotMatch(await failed.locator('.msg').textContent(), /dial tcp|check MarchProxy health/);
  assert.match(await disclosed(failed), /connection refused/);

  // KillKrill is off: no test button and none of its notes (the gRPC one).
  const kk = page.locator('section[aria-labelledby="kk-title"]');
  await kk.locator('.status-unknown').filter({ hasText: 'Off' }).waitFor();
  assert.equal(await kk.getByRole('button', { name: /Test connection/ }).count(), 0);
  assert.doesNotMatch(await kk.textContent(), /GRPC/i);
  await checkA11y(page, 'integrations, after the connection tests');
  await shot(page, 'integrations-tested-desktop');

  for (const [name, q] of [
    ['KillKrill settings', 'killkrill'],
    ['WaddleAI settings', 'waddleai'],
    ['Licence server settings', 'license'],
    ['OpenTelemetry settings', 'otel'],
    ['MarchProxy settings', 'marchproxy'],
    ['Email settings', 'smtp'],
  ]) {
    assert.equal(await page.getByRole('link', { name, exact: true }).getAttribute('href'), `/settings?q=${q}`, name);
  }
  await page.getByRole('link', { name: 'WaddleAI settings', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/settings' && u.search === '?q=waddleai');
  assert.equal(await page.getByLabel('Search').inputValue(), 'waddleai');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('integrations: an unresolvable gateway reads as a sentence without the resolver, on a phone too', async () => {
  const page = await newPage(browser, { viewport: phone, isMobile: true });
  await signIn(page, env.development);
  await page.goto(env.development + '/integrations');
  const ai = page.locator('[data-integration="waddleai"]');
  await ai.getByText('WaddleAI could not be reached at its configured address.').waitFor();
  assert.doesNotMatch(await ai.locator('.msg').first().textContent(), /lookup|dial tcp|:53/);
  assert.match(await disclosed(ai.locator('.msg-block').first()), /waddleai\.invalid/);

  await ai.getByRole('button', { name: 'Test connection to WaddleAI' }).click();
  const failed = ai.locator('[data-ok="false"]');
  await failed.getByText(/the host name waddleai\.invalid (was not found|could not be looked up)/).waitFor();
  assert.doesNotMatch(await failed.locator('.msg').textContent(), /lookup|dial tcp|:53/);
  await checkA11y(page, 'integrations on a phone, gateway unresolvable');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('AI page: says the gateway cannot be reached before anyone types', async () => {
  const page = await newPage(browser);
  await signIn(page, env.development);
  await page.goto(env.development + '/ai');
  const down = page.getByTestId('gateway-down');
  await down.getByText(/The AI gateway cannot be reached right now/).waitFor();
  // Nothing was typed or sent yet.
  assert.equal(await page.getByLabel('Text to analyse').inputValue(), '');
  await checkA11y(page, 'AI page, gateway unreachable');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
