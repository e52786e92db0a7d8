import { en } from '../../cards/i18n/en';
import type { MessageKey } from '../../cards/i18n';
import type { Access } from '../agents';
import type { CommandName } from './types';

/**
 * The one command table: the parser, the help card, the role checks and the manifest's command list
 * are all derived from it. `words` are the English keywords typed in Teams.
 */
export interface CommandSpec {
  name: CommandName;
  words: string[];
  usage: string;
  descriptionKey: MessageKey;
  access: Access;
  /** Listed in the Teams command menu (the manifest's commandLists, at most 10). */
  menu?: boolean;
}

export const COMMANDS: CommandSpec[] = [
  { name: 'help', words: ['help'], usage: 'help', descriptionKey: 'help.cmd.help', access: 'everyone', menu: true },
  { name: 'whoami', words: ['whoami'], usage: 'whoami', descriptionKey: 'help.cmd.whoami', access: 'everyone' },
  { name: 'customers', words: ['customers'], usage: 'customers [text]', descriptionKey: 'help.cmd.customers', access: 'helpdesk', menu: true },
  {
    name: 'users',
    words: ['users'],
    usage: 'users <customer> [--unlicensed|--licensed|--license <sku>] [--role <role>] [--search <text>] [--page <n>]',
    descriptionKey: 'help.cmd.users',
    access: 'helpdesk',
    menu: true,
  },
  { name: 'licenses', words: ['licenses'], usage: 'licenses <customer>', descriptionKey: 'help.cmd.licenses', access: 'helpdesk' },
  { name: 'addUser', words: ['add', 'user'], usage: 'add user <customer>', descriptionKey: 'help.cmd.addUser', access: 'admin', menu: true },
  { name: 'importUsers', words: ['import', 'users'], usage: 'import users <customer>', descriptionKey: 'help.cmd.importUsers', access: 'admin' },
  { name: 'assign', words: ['assign'], usage: 'assign <sku> <customer> <user>[,<user>…]', descriptionKey: 'help.cmd.assign', access: 'admin' },
  { name: 'unassign', words: ['unassign'], usage: 'unassign <sku> <customer> <user>[,<user>…]', descriptionKey: 'help.cmd.unassign', access: 'admin' },
  { name: 'replace', words: ['replace'], usage: 'replace <sku> <sku> <customer> <user>[,<user>…]', descriptionKey: 'help.cmd.replace', access: 'admin' },
  { name: 'resetPassword', words: ['reset', 'password'], usage: 'reset password <customer> <user>', descriptionKey: 'help.cmd.resetPassword', access: 'helpdesk', menu: true },
  { name: 'deleteUsers', words: ['delete', 'user'], usage: 'delete user <customer> <user>[,<user>…]', descriptionKey: 'help.cmd.deleteUser', access: 'admin' },
  { name: 'offboard', words: ['offboard'], usage: 'offboard <customer> <user> [--to <user>]', descriptionKey: 'help.cmd.offboard', access: 'admin', menu: true },
  { name: 'deletedUsers', words: ['deleted', 'users'], usage: 'deleted users <customer>', descriptionKey: 'help.cmd.deletedUsers', access: 'helpdesk', menu: true },
  { name: 'restore', words: ['restore'], usage: 'restore <customer> <user>[,<user>…] [--new-username <name>]', descriptionKey: 'help.cmd.restore', access: 'helpdesk', menu: true },
  { name: 'audit', words: ['audit'], usage: 'audit <customer> [--page <n>]', descriptionKey: 'help.cmd.audit', access: 'helpdesk', menu: true },
  { name: 'approvalsChannel', words: ['approvals', 'channel', 'here'], usage: 'approvals channel here', descriptionKey: 'help.cmd.approvalsChannel', access: 'admin' },
  { name: 'approvals', words: ['approvals'], usage: 'approvals <customer> on|off [--expires <n>] [--import-over <n>]', descriptionKey: 'help.cmd.approvals', access: 'admin', menu: true },
  { name: 'grant', words: ['grant'], usage: 'grant <admin|helpdesk> <agent id>', descriptionKey: 'help.cmd.grant', access: 'admin' },
  { name: 'revoke', words: ['revoke'], usage: 'revoke <agent id>', descriptionKey: 'help.cmd.revoke', access: 'admin' },
];

/** Commands that only card buttons produce, with the access of the command they belong to. */
const CARD_ONLY_ACCESS: Partial<Record<CommandName, Access>> = {
  createUser: 'admin',
  finishSeries: 'admin',
  importCheck: 'admin',
  importRun: 'admin',
  // The Import users dialog (task/fetch and its upload's task/submit): as `import users`.
  importDialog: 'admin',
  importUpload: 'admin',
  manageLicenses: 'admin',
  saveLicenses: 'admin',
  confirmResetPassword: 'helpdesk',
  confirmDeleteUsers: 'admin',
  confirmOffboard: 'admin',
  // The refresh of the running card: the agent who pressed Offboard (an admin agent).
  viewOffboard: 'admin',
  // Requests and their cards: helpdesk agents and up (who may decide is the approval service's rule).
  requestApproval: 'helpdesk',
  decideApproval: 'helpdesk',
  viewApproval: 'helpdesk',
  approvalAgain: 'helpdesk',
};

/**
 * Changes that four eyes may hold back (the gate asks the approval service). Under four eyes a helpdesk agent may
 * start them too: they become a request, never the change itself.
 */
export const APPROVABLE: ReadonlySet<CommandName> = new Set<CommandName>([
  'deleteUsers',
  'confirmDeleteUsers',
  'offboard',
  'confirmOffboard',
  'confirmResetPassword',
  // License removal: typed (always removes) or a Manage licenses save that removes at least one license.
  'unassign',
  'replace',
  'saveLicenses',
]);

export function accessOf(name: CommandName): Access {
  return COMMANDS.find((c) => c.name === name)?.access ?? CARD_ONLY_ACCESS[name] ?? 'admin';
}

export function specOf(name: CommandName): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The Teams command menu, derived from the table (English: the manifest is not localised here). */
export function menuCommands(): Array<{ title: string; description: string }> {
  return COMMANDS.filter((c) => c.menu).map((c) => ({ title: c.words.join(' '), description: String(en[c.descriptionKey]).slice(0, 128) }));
}
