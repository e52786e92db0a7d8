import { z } from 'zod';
import { IMPORT_DIALOG } from '../../cards/elements';
import type { Command } from './types';

/**
 * Teams dialog invokes (task/fetch, task/submit) → Command, validated with zod like card actions:
 * - the Import users button (`{ msteams, dialog: 'importUsers', customerId? }`) and the dialog's own customer choice
 *   (`{ dialog: 'importUsers', customerId }`) → `importDialog`;
 * - the upload page's submit (`{ uploadId }`) → `importUpload`.
 */
const customerId = z.string().trim().max(64).regex(/^([a-z0-9][a-z0-9-]*)?$/);
const openData = z.object({ dialog: z.literal(IMPORT_DIALOG), customerId: customerId.optional() });
const uploadData = z.object({ uploadId: z.string().regex(/^[A-Za-z0-9_-]{22}$/) });

export type DialogCommand = Extract<Command, { name: 'importDialog' | 'importUpload' }>;

export function dialogToCommand(data: unknown): { ok: true; command: DialogCommand } | { ok: false } {
  const upload = uploadData.safeParse(data);
  if (upload.success) return { ok: true, command: { name: 'importUpload', uploadId: upload.data.uploadId } };
  const open = openData.safeParse(data);
  if (open.success) return { ok: true, command: { name: 'importDialog', customer: open.data.customerId || undefined } };
  return { ok: false };
}
