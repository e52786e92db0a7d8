import { AdaptiveCard, card, container, heading, text } from './elements';
import { MessageKey, Translator } from './i18n';

export interface HelpCardModel {
  roleLabel: string;
  commands: Array<{ usage: string; descriptionKey: MessageKey }>;
}

export function helpCard(t: Translator['t'], model: HelpCardModel): AdaptiveCard {
  return card([
    heading(t('help.title')),
    text(t('help.intro')),
    text(t('help.yourRole', { role: model.roleLabel }), { isSubtle: true }),
    ...model.commands.map((c) =>
      container([text(c.usage, { weight: 'Bolder' }), text(t(c.descriptionKey), { spacing: 'None' })], { spacing: 'Small' }),
    ),
    text(t('help.customerHint'), { isSubtle: true, separator: true }),
  ]);
}
