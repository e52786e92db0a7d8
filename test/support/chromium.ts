/**
 * Debian's Chromium for the end-to-end tests, started offline: no background networking, no telemetry, every host but
 * localhost unresolvable (the tests also abort non-localhost requests of their pages). Without the binary the tests are
 * skipped, except under CI, where a missing browser is an error.
 *
 *   const e2e = e2eTest();                     // test, or test.skip without Chromium
 *   browser = await launchChromium();          // chromium.launch: a fresh profile of its own
 *   chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, … })
 */
import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-pings',
  '--disable-domain-reliability',
  '--disable-breakpad',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost',
];

export function e2eTest(): typeof test {
  if (!haveChromium && process.env.CI) {
    throw new Error(`${CHROMIUM} is missing: install the Debian package (apt-get install -y chromium) to run the end-to-end test`);
  }
  return haveChromium ? test : test.skip;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
