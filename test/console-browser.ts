// Chromium for the console's tests and benchmark: Debian's build through playwright-core, with
// the flags that keep it off the network, and the sign-in every run starts with.
import { chromium, type Browser, type Page } from 'playwright-core';

/** Starts Debian's Chromium headless, with a fresh profile and nothing that phones home. */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens the console at `url` in a new page of `size` and signs in with `token`; console errors and page errors are collected in `errors`. */
export async function signIn(browser: Browser, url: string, token: string, size = { width: 1280, height: 800 }, errors: string[] = []): Promise<Page> {
  const page = await browser.newPage({ viewport: size });
  page.on('console', (m) => void (m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`)));
  page.on('pageerror', (e) => void errors.push(`${page.url()}: ${e.message}`));
  await page.goto(url);
  await page.fill('#token', token);
  await page.click('form button[type=submit]');
  await page.waitForSelector('nav a', { timeout: 30_000 });
  return page;
}
