/**
 * Adaptive Card 1.5 building blocks. Every text goes through TextRun inside a RichTextBlock, which
 * hosts never interpret as markdown, so names and CSV cells from users always show as typed.
 */
export type CardElement = Record<string, unknown>;
export type CardAction = Record<string, unknown>;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardAction[];
  [key: string]: unknown;
}

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export function card(body: CardElement[], actions: CardAction[] = []): AdaptiveCard {
  const c: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body,
  };
  if (actions.length) c.actions = actions;
  return c;
}

interface TextOptions {
  size?: 'Small' | 'Default' | 'Medium' | 'Large';
  weight?: 'Default' | 'Bolder';
  color?: 'Default' | 'Attention' | 'Good' | 'Warning' | 'Accent';
  isSubtle?: boolean;
  spacing?: 'None' | 'Small' | 'Default' | 'Medium' | 'Large';
  separator?: boolean;
}

/** One paragraph of plain text (never markdown). Colour is only ever added to words that already say it. */
export function text(value: string, options: TextOptions = {}): CardElement {
  const { spacing, separator, ...run } = options;
  const el: CardElement = { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: value, ...run }] };
  if (spacing) el.spacing = spacing;
  if (separator) el.separator = true;
  return el;
}

export const heading = (value: string): CardElement => text(value, { size: 'Medium', weight: 'Bolder' });

/** "Label: value" lines; the value is user data and stays plain. */
export function field(label: string, value: string): CardElement {
  return {
    type: 'RichTextBlock',
    inlines: [
      { type: 'TextRun', text: `${label}: `, weight: 'Bolder' },
      { type: 'TextRun', text: value },
    ],
  };
}

export function container(items: CardElement[], extra: Record<string, unknown> = {}): CardElement {
  return { type: 'Container', items, ...extra };
}

export type ActionData = Record<string, unknown>;

/** Universal Action: `verb` + `data` become a Command in the bot. */
export function execute(title: string, verb: string, data: ActionData, options: { inputs?: boolean; style?: 'positive' | 'destructive' } = {}): CardAction {
  const action: CardAction = { type: 'Action.Execute', title, verb, data };
  action.associatedInputs = options.inputs ? 'auto' : 'none';
  if (options.style) action.style = options.style;
  return action;
}

export const actionSet = (actions: CardAction[]): CardElement => ({ type: 'ActionSet', actions });

/** Data of the button that opens the Import users dialog (the bot's task/fetch and task/submit read it). */
export const IMPORT_DIALOG = 'importUsers';

/**
 * Opens a Teams dialog (task module): Universal Actions have no dialog action, so this is an `Action.Submit` with
 * `msteams.type = task/fetch`, which Teams renders beside `Action.Execute` buttons and answers with a `task/fetch`
 * invoke carrying `data`. The card's inputs are not sent with it.
 */
export function openDialog(title: string, data: ActionData): CardAction {
  return { type: 'Action.Submit', title, data: { msteams: { type: 'task/fetch' }, ...data }, associatedInputs: 'none' };
}

export interface Choice {
  title: string;
  value: string;
}

export function choiceSet(
  id: string,
  label: string,
  choices: Choice[],
  options: { multi?: boolean; value?: string; required?: boolean; errorMessage?: string; expanded?: boolean; placeholder?: string } = {},
): CardElement {
  const el: CardElement = { type: 'Input.ChoiceSet', id, label, choices, style: options.expanded ? 'expanded' : 'compact' };
  if (options.multi) el.isMultiSelect = true;
  if (options.value !== undefined) el.value = options.value;
  if (options.required) el.isRequired = true;
  if (options.errorMessage) el.errorMessage = options.errorMessage;
  if (options.placeholder) el.placeholder = options.placeholder;
  return el;
}

export function textInput(
  id: string,
  label: string,
  options: { value?: string; required?: boolean; maxLength?: number; placeholder?: string; errorMessage?: string } = {},
): CardElement {
  const el: CardElement = { type: 'Input.Text', id, label };
  if (options.value) el.value = options.value;
  if (options.required) el.isRequired = true;
  if (options.maxLength) el.maxLength = options.maxLength;
  if (options.placeholder) el.placeholder = options.placeholder;
  if (options.errorMessage) el.errorMessage = options.errorMessage;
  return el;
}
