import { ActionData, AdaptiveCard, card, execute, field, heading, text } from './elements';
import { localizeUsage } from './help';
import { Translator } from './i18n';
import { VERBS } from './verbs';

export interface ErrorCardModel {
  message: string;
  usage?: string;
  hint?: string;
}

export function errorCard(t: Translator['t'], model: ErrorCardModel): AdaptiveCard {
  const body = [heading(t('error.title')), text(model.message, { color: 'Attention' })];
  if (model.usage) body.push(text(t('error.usage', { usage: localizeUsage(t, model.usage) })));
  if (model.hint) body.push(text(model.hint, { isSubtle: true }));
  return card(body);
}

export function messageCard(title: string, lines: string[]): AdaptiveCard {
  return card([heading(title), ...lines.map((l) => text(l))]);
}

export interface ChoiceCardModel {
  title: string;
  prompt: string;
  options: Array<{ title: string; commandText: string }>;
}

/** A choice between several matches; each button re-runs the command with the chosen one. */
export function choiceCard(model: ChoiceCardModel): AdaptiveCard {
  return card(
    [heading(model.title), text(model.prompt)],
    model.options.slice(0, 20).map((o) => execute(o.title, VERBS.runCommand, { text: o.commandText } satisfies ActionData)),
  );
}

export interface WhoAmIModel {
  name: string;
  id: string;
  tenantId: string;
  roleLabel: string;
}

export function whoAmICard(t: Translator['t'], m: WhoAmIModel): AdaptiveCard {
  return card([
    heading(t('whoami.title')),
    field(t('whoami.name'), m.name),
    field(t('whoami.id'), m.id),
    field(t('whoami.tenant'), m.tenantId),
    field(t('whoami.role'), m.roleLabel),
  ]);
}
