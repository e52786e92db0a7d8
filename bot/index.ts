/** Entry point: `npm start`. Reads the settings, starts the bot, stops cleanly on SIGTERM/SIGINT. */
import { createApp } from './app';
import { loadSettings, SettingsError } from './config';

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
  const app = await createApp(settings);
  const url = await app.listen();
  app.logger.info({ url, messages: `${url}/api/messages` }, 'Partner Admin Bot listening');
  const stop = async (signal: string) => {
    app.logger.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error('Partner Admin Bot could not start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
