/**
 * A stand-in for the SharePoint/OneDrive download URL Teams puts in a file attachment
 * (`application/vnd.microsoft.teams.file.download.info`), on 127.0.0.1 and a free port.
 *
 *   const files = await startFileServer();
 *   const url = files.serve('/users.csv', bytes);                 // 200 with Content-Length
 *   files.serveHandler('/slow.csv', (req, res) => { ... });     // anything else (never answer, stream forever)
 *   files.requests('/users.csv')                                 // how many times the bot fetched it
 *   teamsFileAttachment('users.csv', url)                        // the attachment as Teams sends it
 *   await files.stop();
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FileHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface FileServer {
  readonly url: string;
  /** Serves the bytes at `path` (200, Content-Length); returns the full URL. */
  serve(path: string, bytes: Buffer | string): string;
  serveHandler(path: string, handler: FileHandler): string;
  requests(path: string): number;
  stop(): Promise<void>;
}

export async function startFileServer(): Promise<FileServer> {
  const handlers = new Map<string, FileHandler>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const handler = handlers.get(path);
    if (!handler) {
      res.statusCode = 404;
      res.end();
      return;
    }
    handler(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    serve(path, bytes) {
      const body = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      handlers.set(path, (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
        res.end(body);
      });
      return `${url}${path}`;
    },
    serveHandler(path, handler) {
      handlers.set(path, handler);
      return `${url}${path}`;
    },
    requests: (path) => counts.get(path) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A file attachment as Teams sends it with a message in the 1:1 chat. */
export function teamsFileAttachment(name: string, downloadUrl: string): Record<string, unknown> {
  const fileType = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  return {
    contentType: 'application/vnd.microsoft.teams.file.download.info',
    contentUrl: `https://contoso.sharepoint.com/personal/megan/Documents/Microsoft%20Teams%20Chat%20Files/${encodeURIComponent(name)}`,
    name,
    content: { downloadUrl, uniqueId: '1d5e3a9c-0b7f-4e2a-9c1d-3f5a7b9c1e2d', fileType },
  };
}
