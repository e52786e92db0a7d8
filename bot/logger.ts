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
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  // An HTTP client error logged whole carries the request it made (with the bot's bearer token).
  'err.request.headers.authorization',
  'err.request.headers.Authorization',
  'err.response.request.headers.authorization',
  'MicrosoftAppPassword',
  '*.MicrosoftAppPassword',
  'microsoftAppPassword',
  '*.microsoftAppPassword',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'partner-admin-bot' } }, destination);
}
