import pino, { Logger } from 'pino';

/** Paths pino blanks out wherever they appear: secrets never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'temporaryPassword',
  '*.temporaryPassword',
  'token',
  '*.token',
  'downloadToken',
  '*.downloadToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'MicrosoftAppPassword',
  '*.MicrosoftAppPassword',
  'microsoftAppPassword',
  '*.microsoftAppPassword',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'partner-admin-bot' } }, destination);
}
