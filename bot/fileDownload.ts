/** Files sent to the bot: Teams gives a pre-authorised download URL; read it with a size limit and a timeout. */
export interface IncomingFile {
  name: string;
  url: string;
}

export const TEAMS_FILE_DOWNLOAD_INFO = 'application/vnd.microsoft.teams.file.download.info';

interface AttachmentLike {
  contentType?: string;
  contentUrl?: string;
  name?: string;
  content?: unknown;
}

/** The first file attached to a message: a Teams file (download info) or a plain attachment with a URL. */
export function attachedFile(attachments: AttachmentLike[] | undefined): IncomingFile | undefined {
  for (const a of attachments ?? []) {
    if (a.contentType === TEAMS_FILE_DOWNLOAD_INFO) {
      const content = (a.content ?? {}) as { downloadUrl?: string; fileType?: string };
      if (content.downloadUrl) return { name: a.name ?? `file.${content.fileType ?? ''}`, url: content.downloadUrl };
    } else if (a.contentUrl && a.contentType !== 'text/html') {
      return { name: a.name ?? 'file', url: a.contentUrl };
    }
  }
  return undefined;
}

export const isCsvName = (name: string): boolean => /\.(csv|txt)$/i.test(name.trim());

export type Downloaded = { ok: true; bytes: Buffer } | { ok: false; reason: 'tooLarge' | 'failed' };

export async function download(url: string, options: { maxBytes: number; timeoutMs: number }): Promise<Downloaded> {
  if (!/^https?:\/\//i.test(url)) return { ok: false, reason: 'failed' };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'follow' });
    if (!response.ok || !response.body) return { ok: false, reason: 'failed' };
    if (Number(response.headers.get('content-length') ?? 0) > options.maxBytes) {
      await response.body.cancel();
      return { ok: false, reason: 'tooLarge' };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > options.maxBytes) {
        await reader.cancel();
        return { ok: false, reason: 'tooLarge' };
      }
      chunks.push(Buffer.from(value));
    }
    return { ok: true, bytes: Buffer.concat(chunks) };
  } catch {
    return { ok: false, reason: 'failed' };
  }
}
