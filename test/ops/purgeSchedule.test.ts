/** The bot purges users deleted more than 30 days ago on its own: at start-up and every hour. */
import pino from 'pino';
import { createApp } from '../../bot/app';
import { loadSettings } from '../../bot/config';
import { DAY_MS } from '../../services/directory';
import { createTestDirectory } from '../support/testDirectory';

it('purges expired deleted users at start-up and keeps the ones still restorable', async () => {
  const t = await createTestDirectory();
  const c = await t.seed({ users: [{ username: 'old', licenses: ['O365_E3'] }, { username: 'recent' }] });
  await t.directory.deleteUsers('contoso', [{ userId: c.user('old').id }], { actor: t.actor });
  t.clock.advance(10 * DAY_MS);
  await t.directory.deleteUsers('contoso', [{ userId: c.user('recent').id }], { actor: t.actor });
  t.clock.advance(21 * DAY_MS); // old: 31 days ago, recent: 21 days ago
  const app = await createApp({ ...loadSettings({}), port: 0 }, { redis: t.redis, keys: t.keys, clock: t.clock, logger: pino({ level: 'silent' }) });
  try {
    await app.listen();
    const deadline = Date.now() + 10_000;
    while ((await t.redis.exists(t.keys.user('contoso', c.user('old').id))) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(await t.redis.exists(t.keys.user('contoso', c.user('old').id))).toBe(0);
    expect((await t.directory.listDeletedUsers('contoso')).map((u) => u.username)).toEqual(['recent']);
  } finally {
    await app.close();
    await t.cleanup();
  }
});
