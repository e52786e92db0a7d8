import { AdaptiveCard, card, container, heading, IMPORT_DIALOG, openDialog, text } from './elements';
import { MessageKey, Translator } from './i18n';

export interface HelpCardModel {
  roleLabel: string;
  commands: Array<{ usage: string; descriptionKey: MessageKey }>;
  /** The caller may import users: the card offers the Import users dialog (it asks for the customer first). */
  importDialog?: boolean;
}

/** Argument names that usage lines write in angle or square brackets (`users <customer> [--page <n>]`). */
const USAGE_ARGS: Record<string, MessageKey> = {
  customer: 'usage.arg.customer',
  user: 'usage.arg.user',
  sku: 'usage.arg.sku',
  role: 'usage.arg.role',
  text: 'usage.arg.text',
  n: 'usage.arg.n',
  name: 'usage.arg.name',
  'agent id': 'usage.arg.agentId',
};

/** A usage line in the caller's language: keywords and flags stay English (they are typed), argument names are translated. */
export function localizeUsage(t: Translator['t'], usage: string): string {
  return usage.replace(/([<[])([a-z ]+)([>\]])/g, (whole, open: string, arg: string, close: string) =>
    Object.hasOwn(USAGE_ARGS, arg) ? `${open}${t(USAGE_ARGS[arg])}${close}` : whole,
  );
}

export function helpCard(t: Translator['t'], model: HelpCardModel): AdaptiveCard {
  return card([
    heading(t('help.title')),
    text(t('help.intro')),
    text(t('help.yourRole', { role: model.roleLabel }), { isSubtle: true }),
    ...model.commands.map((c) =>
      container([text(localizeUsage(t, c.usage), { weight: 'Bolder' }), text(t(c.descriptionKey), { spacing: 'None' })], { spacing: 'Small' }),
    ),
    text(t('help.customerHint'), { isSubtle: true, separator: true }),
  ], model.importDialog ? [openDialog(t('users.importUsers'), { dialog: IMPORT_DIALOG })] : []);
}
