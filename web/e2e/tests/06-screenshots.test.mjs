// Screenshots of the main pages at a desktop and a phone width, for the
// user documentation (docs/screenshots). Each page is also checked for
// horizontal overflow, which on a phone means content cut off.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { desktop, env, launch, newPage, phone, shot, signIn } from '../lib.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const pages = [
  { name: 'settings', path: '/settings', ready: 'tr[data-key="app_name"]' },
  { name: 'license', path: '/license', ready: '[data-testid="tier"]' },
  { name: 'integrations', path: '/integrations', ready: 'h1' },
  { name: 'ai', path: '/ai', ready: '#analyze-text' },
  { name: 'users', path: '/users', ready: 'tbody.user-group' },
];

for (const [size, viewport] of [
  ['desktop', desktop],
  ['phone', phone],
]) {
  test(`main pages at ${size} width`, async () => {
    const page = await newPage(browser, { viewport, isMobile: size === 'phone' });
    await page.goto(env.pro + '/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot(page, `login-${size}`);
    await signIn(page, env.pro);
    for (const p of pages) {
      await page.goto(env.pro + p.path);
      await page.locator(p.ready).first().waitFor();
      await page.locator('.loading').waitFor({ state: 'detached' });
      if (p.name === 'ai') {
        await page.getByLabel('Text to analyse').fill('The new release is great: sign-in is fast and the settings page is clear.');
        await page.getByRole('button', { name: 'Analyse' }).click();
        await page.locator('.analysis').waitFor();
        await page.getByLabel('Prompt').fill('Write one sentence about rookery.');
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.locator('.stream-status[data-state="done"]').waitFor();
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${p.name} at ${size} width overflows sideways by ${overflow}px`);
      await shot(page, `${p.name}-${size}`);
    }
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}
