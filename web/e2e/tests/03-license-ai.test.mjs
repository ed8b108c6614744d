// The licence page, and the AI page gated by the licence: a community
// licence leaves AI and the audit history out; a professional one has both.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API, checkA11y, env, launch, newPage, shot, signIn } from '../lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('community licence: tier, usage and the missing features are shown', async () => {
  const page = await newPage(browser);
  await signIn(page, env.community);
  await page.goto(env.community + '/license');
  await page.getByTestId('tier').filter({ hasText: 'Community' }).waitFor();
  await page.getByTestId('source').filter({ hasText: 'Live' }).waitFor();
  await page.getByText('Initech').waitFor();
  const users = (await API.login(env.community).then((a) => a.get('/api/v1/license'))).json.usage.users;
  await page.getByRole('meter', { name: 'Users' }).and(page.locator(`[aria-valuetext="${users} of 5"]`)).waitFor();
  assert.equal(await page.locator('li[data-feature="ai_analysis"].off').count(), 1);
  assert.equal(await page.locator('li[data-feature="basic_auth"].on').count(), 1);
  await checkA11y(page, 'licence page, community');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('community licence: the AI page explains that AI is not included', async () => {
  const page = await newPage(browser);
  await signIn(page, env.community);
  await page.goto(env.community + '/ai');
  const gated = page.getByTestId('gated-ai_analysis');
  await gated.getByText('AI analysis is not included in the community licence.').waitFor();
  await page.getByTestId('gated-ai_generation').waitFor();
  assert.equal(await page.getByLabel('Text to analyse').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Generate' }).count(), 0);
  await checkA11y(page, 'AI page, community');
  await shot(page, 'ai-community-desktop');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("community licence: a setting's history says audit logs need a higher tier", async () => {
  const page = await newPage(browser);
  await signIn(page, env.community);
  await page.goto(env.community + '/settings');
  await page.getByLabel('Search').fill('log_level');
  await page.locator('tr[data-key="log_level"]').getByRole('button', { name: 'History of log_level' }).click();
  const region = page.getByRole('region', { name: 'History of log_level' });
  await region.getByRole('status').waitFor();
  assert.match(await region.textContent(), /audit/i);
  assert.equal(await region.getByRole('listitem').count(), 0);
  await checkA11y(page, 'settings history, community');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('professional licence: check now asks the licence server again', async () => {
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/license');
  await page.getByTestId('tier').filter({ hasText: 'Professional' }).waitFor();
  await page.getByRole('button', { name: 'Check now' }).click();
  await page.locator('[data-outcome="valid"]').getByText('The licence server confirmed the licence just now.').waitFor();
  assert.equal(await page.locator('li[data-feature="ai_generation"].on').count(), 1);
  await checkA11y(page, 'licence page, professional, after Check now');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('professional licence: analysis of each task', async () => {
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/ai');
  await page.getByLabel('Text to analyse').fill('Ada Lovelace praised the new release. It is great and fast.');
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.locator('.analysis[data-task="sentiment"]').getByText('Positive').waitFor();
  await page.getByText('confidence 92%').waitFor();

  await page.getByRole('radio', { name: /Entities/ }).check();
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.locator('.analysis[data-task="entities"]').getByText('Ada Lovelace').waitFor();

  await page.getByRole('radio', { name: /Language/ }).check();
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.locator('.analysis[data-task="language"]').getByText('English').waitFor();

  await page.getByRole('radio', { name: /Summary/ }).check();
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.locator('.analysis[data-task="summary"]').getByText('Ada Lovelace praised the new release.').waitFor();
  await checkA11y(page, 'AI page, professional, after an analysis');
  // The gateway answers, so the page raises no warning about it.
  assert.equal(await page.getByTestId('gateway-down').count(), 0);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('professional licence: the generated answer appears while it streams', async () => {
  const page = await newPage(browser);
  await signIn(page, env.pro);
  await page.goto(env.pro + '/ai');
  await page.getByLabel('Prompt').fill('How do I rotate the encryption key?');
  await page.getByRole('button', { name: 'Generate' }).click();
  // Part of the answer is on screen while the stream is still open.
  const partial = await page.waitForFunction(() => {
    const box = document.querySelector('[data-testid="generated"]');
    const state = document.querySelector('.stream-status')?.getAttribute('data-state');
    const text = box?.textContent ?? '';
    return state === 'streaming' && text.startsWith('You asked:') ? text : false;
  });
  const partialText = await partial.jsonValue();
  await page.locator('.stream-status[data-state="done"]').waitFor();
  const full = await page.getByTestId('generated').textContent();
  assert.ok(full.length > partialText.length, `the answer grew after "${partialText}"`);
  assert.match(full, /How do I rotate the encryption key\?/);
  assert.match(full, /word by word, so you can read it while it is written\.$/);
  await page.getByText(/finished: stop/).waitFor();
  await checkA11y(page, 'AI page, professional, after generation');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
