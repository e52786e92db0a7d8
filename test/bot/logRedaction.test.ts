import { createLogger } from '../../bot/logger';

/** What reaches the log when the connector call of a turn fails: the error object, logged whole by the turn handler. */
function logged(fields: Record<string, unknown>): string {
  const lines: string[] = [];
  createLogger('info', { write: (l: string) => void lines.push(l) }).error(fields, 'unhandled turn error');
  return lines.join('');
}

describe('log redaction of HTTP requests and errors', () => {
  it('blanks the bearer token of a logged request, whichever way the header is spelt', () => {
    const text = logged({ headers: { Authorization: 'Bearer tok-1' }, outgoing: { headers: { authorization: 'Bearer tok-2' } } });
    expect(text).not.toMatch(/tok-1|tok-2/);
    expect(text.match(/\[redacted\]/g)).toHaveLength(2);
  });

  it('blanks the bearer token inside an HTTP client error (its request, and the request of its response)', () => {
    const err = Object.assign(new Error('Forbidden'), {
      statusCode: 403,
      request: { url: 'http://127.0.0.1:9/v3/conversations', headers: { authorization: 'Bearer tok-3', Authorization: 'Bearer tok-4' } },
      response: { status: 403, request: { headers: { authorization: 'Bearer tok-5' } } },
    });
    const text = logged({ err });
    expect(text).not.toMatch(/tok-3|tok-4|tok-5/);
    // What is needed to diagnose the failure stays.
    expect(text).toContain('Forbidden');
    expect(text).toContain('/v3/conversations');
  });
});
