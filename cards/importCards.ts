import type { ImportPreview, ImportProgress } from '../services/import/importer';
import type { Customer } from '../services/types';
import { AdaptiveCard, CardElement, card, choiceSet, execute, heading, IMPORT_DIALOG, openDialog, text, textInput } from './elements';
import type { Translator } from './i18n';
import { INPUTS, VERBS } from './verbs';

type T = Translator['t'];

export interface ImportPreviewModel {
  preview: ImportPreview;
  /** "Line N: reason" for the first issues, already in the caller's language. */
  issueLines: string[];
  operationId: string;
  /** Why the last Import click did not start (all-or-nothing with errors, nothing ready, already started). */
  notice?: string;
}

export function importPreviewCard(t: T, m: ImportPreviewModel): AdaptiveCard {
  const p = m.preview;
  const body: CardElement[] = [heading(t('import.previewTitle', { customer: p.customer.name })), text(t('import.file', { name: p.filename }), { isSubtle: true })];
  if (m.notice) body.push(text(m.notice, { color: 'Attention' }));
  body.push(text(t('import.total', { count: p.total })), text(t('import.ready', { count: p.ready }), { weight: 'Bolder' }));
  for (const s of p.subscriptions) {
    const needed = p.seatsNeeded[s.skuId];
    if (needed) body.push(text(t('import.seats', { license: s.name, needed, available: Math.max(0, s.availableSeats) }), { spacing: 'None' }));
  }
  if (p.issueCount) {
    body.push(text(t('import.issues', { count: p.issueCount }), { color: 'Attention', separator: true }));
    body.push(...m.issueLines.map((l) => text(l, { spacing: 'None' })));
    if (p.issueCount > m.issueLines.length) body.push(text(t('import.moreIssues', { count: p.issueCount - m.issueLines.length }), { isSubtle: true }));
  }
  if (p.withoutUsageLocation) {
    body.push(textInput(INPUTS.usageLocation, t('import.usageLocation', { count: p.withoutUsageLocation }), { value: p.options.usageLocation, maxLength: 2 }));
  }
  if (p.withoutLicenses && p.subscriptions.length) {
    body.push(
      choiceSet(
        INPUTS.licenses,
        t('import.licenses', { count: p.withoutLicenses }),
        p.subscriptions.map((s) => ({ title: t('addUser.licenseChoice', { name: s.name, available: Math.max(0, s.availableSeats), total: s.totalSeats }), value: s.skuId })),
        { multi: true, expanded: true, value: p.options.licenses?.join(',') },
      ),
    );
  }
  body.push(
    choiceSet(
      'mode',
      t('import.mode'),
      [
        { title: t('import.mode.validRows'), value: 'validRows' },
        { title: t('import.mode.allOrNothing'), value: 'allOrNothing' },
      ],
      { value: p.options.mode, expanded: true },
    ),
  );
  const data = { customerId: p.customer.id, jobId: p.jobId };
  return card(body, [
    execute(t('import.run'), VERBS.importRun, { ...data, operationId: m.operationId }, { inputs: true, style: 'positive' }),
    execute(t('import.check'), VERBS.importCheck, data, { inputs: true }),
    execute(t('common.cancel'), VERBS.users, { customerId: p.customer.id }),
  ]);
}

export function importProgressCard(t: T, customer: Customer, progress: ImportProgress): AdaptiveCard {
  return card([
    heading(t('import.progressTitle', { customer: customer.name })),
    text(t('import.progress', { processed: progress.processed, total: progress.total, created: progress.created, failed: progress.failed })),
  ]);
}

export interface ImportSummaryModel {
  customer: Customer;
  progress: ImportProgress;
  rolledBack: boolean;
  passwordsSent: boolean;
  passwordsRenewed: number;
}

export function importSummaryCard(t: T, m: ImportSummaryModel): AdaptiveCard {
  const body: CardElement[] = [heading(t('import.doneTitle', { customer: m.customer.name }))];
  if (m.rolledBack) body.push(text(t('import.rolledBack'), { color: 'Attention' }));
  else body.push(text(t('import.done', { created: m.progress.created, failed: m.progress.failed, total: m.progress.total })));
  if (m.passwordsRenewed) body.push(text(t('import.passwordsRenewed', { count: m.passwordsRenewed })));
  if (!m.rolledBack) body.push(text(m.passwordsSent ? t('import.passwordsSent') : t('import.privateFailed'), m.passwordsSent ? {} : { color: 'Attention' }));
  return card(body, [execute(t('common.back'), VERBS.users, { customerId: m.customer.id })]);
}

/** The one confirmation in the agent's 1:1 chat: how many users, and the one-time results download. */
export function importResultsCard(t: T, m: { customer: Customer; created: number; downloadUrl: string }): AdaptiveCard {
  return card(
    [
      heading(t('import.resultsTitle', { count: m.created, customer: m.customer.name })),
      text(t('import.resultsHint')),
      text(t('created.mustChange'), { isSubtle: true }),
      text(t('created.downloadHint'), { isSubtle: true }),
    ],
    [{ type: 'Action.OpenUrl', title: t('created.download'), url: m.downloadUrl }],
  );
}

/** How to import for this customer (typed `import users` without a file, or outside the 1:1 chat): the message and the dialog's button. */
export function importHowToCard(t: T, m: { customer: Customer; message: string }): AdaptiveCard {
  return card([heading(t('dialog.title', { customer: m.customer.name })), text(m.message)], [openDialog(t('users.importUsers'), { dialog: IMPORT_DIALOG, customerId: m.customer.id })]);
}

/** The choices' share of the card's 28 KB; a partner with more customers opens the dialog from the customer's own card. */
const CHOICES_MAX_BYTES = 20 * 1024;

/** The Import users dialog opened without a customer (from the help card): choose one, then the upload page opens. */
export function importCustomerChoiceCard(t: T, customers: Customer[]): AdaptiveCard {
  if (!customers.length) return card([heading(t('dialog.chooseTitle')), text(t('dialog.noCustomers'))]);
  const choices: Array<{ title: string; value: string }> = [];
  let bytes = 0;
  for (const c of customers) {
    const choice = { title: `${c.name} (${c.domains[0] ?? c.id})`, value: c.id };
    bytes += Buffer.byteLength(JSON.stringify(choice)) + 1;
    if (bytes > CHOICES_MAX_BYTES) break;
    choices.push(choice);
  }
  const body: CardElement[] = [
    heading(t('dialog.chooseTitle')),
    choiceSet('customerId', t('dialog.choosePrompt'), choices, { required: true, errorMessage: t('dialog.chooseRequired'), placeholder: t('dialog.chooseLabel') }),
  ];
  if (choices.length < customers.length) body.push(text(t('dialog.moreCustomers', { count: choices.length }), { isSubtle: true }));
  return card(
    body,
    // Inside a dialog, Action.Submit answers the dialog: Teams sends task/submit with this data and the chosen customer.
    [{ type: 'Action.Submit', title: t('dialog.next'), data: { dialog: IMPORT_DIALOG }, style: 'positive' }],
  );
}
