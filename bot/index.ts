/** Entry point: `npm start`. Reads the settings, starts the bot, stops cleanly on SIGTERM/SIGINT. */
import { createApp } from './app';
import { loadSettings, SettingsError } from './config';
import { UnsafeRedisError } from './redisChecks';

async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  let app;
  try {
    app = await createApp(settings);
  } catch (err) {
    if (err instanceof UnsafeRedisError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const url = await app.listen();
  app.logger.info({ url, messages: `${url}/api/messages` }, 'Partner Admin Bot listening');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal, inFlight: app.inFlight() }, 'shutting down: finishing turns in flight');
    await app.close();
    app.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error('Partner Admin Bot could not start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
