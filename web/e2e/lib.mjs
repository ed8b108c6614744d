// Helpers shared by the end-to-end tests: the browser, the servers under
// test (started by run.sh, passed in the environment) and the API.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  pro: process.env.ROOKERY_PRO_URL ?? 'http://127.0.0.1:8080',
  community: process.env.ROOKERY_COMMUNITY_URL ?? '',
  development: process.env.ROOKERY_DEV_URL ?? '',
  control: process.env.FAKES_CONTROL_URL ?? '',
  email: process.env.ADMIN_EMAIL ?? 'admin@example.com',
  password: process.env.ADMIN_PASSWORD ?? '',
  shots: process.env.SCREENSHOT_DIR ?? '',
  chromium: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
};

export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** newPage opens a fresh context (its own cookies) at a fixed size, with
 * a fixed locale and time zone so screenshots do not vary by machine. */
export async function newPage(browser, { viewport = desktop, isMobile = false } = {}) {
  const context = await browser.newContext({
    viewport,
    isMobile,
    hasTouch: isMobile,
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of (4\d\d|503)/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.problems = problems;
  return page;
}

export async function signIn(page, base, email = env.email, password = env.password) {
  await page.goto(base + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** shot saves a screenshot: the whole page on a desktop, the first screen
 * on a phone (a whole long page at phone width is too tall to read). */
export async function shot(page, name) {
  if (!env.shots) return;
  mkdirSync(env.shots, { recursive: true });
  // Let fonts and the last paint settle; screenshots are not assertions.
  await page.evaluate(() => document.fonts.ready);
  const fullPage = (page.viewportSize()?.width ?? 0) > 600;
  await page.screenshot({ path: path.join(env.shots, name + '.png'), fullPage, animations: 'disabled', caret: 'hide' });
}

/** fake switches a failure of the fake outside services on or off. */
export async function fake(path) {
  const res = await fetch(env.control + path, { method: 'POST' });
  if (!res.ok) throw new Error(`fakes control ${path}: ${res.status} ${await res.text()}`);
}

/** API is a second client, as another admin's browser or a script would be. */
export class API {
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }
  static async login(base, email = env.email, password = env.password) {
    const res = await fetch(base + '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!res.ok) throw new Error(`sign-in as ${email} answered ${res.status}`);
    const body = await res.json();
    return new API(base, body.access_token);
  }
  async call(method, p, body, headers = {}) {
    const res = await fetch(this.base + p, {
      method,
      headers: {
        Authorization: 'Bearer ' + this.token,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, json, text };
  }
  get(p) {
    return this.call('GET', p);
  }
}

/** ensureUser creates a user through the API unless it exists. */
export async function ensureUser(api, email, password, role) {
  const r = await api.call('POST', '/api/v1/users', { email, password, role });
  if (r.status !== 201 && r.status !== 409) throw new Error(`create ${email}: ${r.status} ${r.text}`);
}

// axe-core's source, read once. It is evaluated in the page through the
// DevTools protocol, which the page's Content-Security-Policy does not
// govern, so no script tag has to be allowed.
let axeSource = '';

/** checkA11y runs axe-core on the page as it is now (every rule axe runs
 * by default: WCAG 2.x A and AA and best practices) and throws listing
 * each violation's id, impact and the elements it found, so a test that
 * calls it fails on any violation. label names the state in the message. */
export async function checkA11y(page, label) {
  if (!axeSource) axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  if (violations.length === 0) return;
  const lines = violations.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.slice(0, 8).join('\n    ')}`);
  throw new Error(`axe-core found ${violations.length} violation(s) on ${label}:\n${lines.join('\n')}`);
}
