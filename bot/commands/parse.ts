import { USER_ROLES, UserFilter, UserRole } from '../../services/types';
import { AGENT_ROLES, AgentRole } from '../agents';
import { COMMANDS, CommandSpec } from './table';
import type { Command } from './types';

/**
 * Typed text → Command. Pure: no I/O. Keywords are case-insensitive; names with spaces are quoted
 * with straight or curly quotes; a mention must already be stripped.
 */
export type ParseProblem =
  | { kind: 'empty' }
  | { kind: 'unknownCommand'; word: string; suggestion?: CommandSpec }
  | { kind: 'badArguments'; spec: CommandSpec }
  | { kind: 'badFlag'; spec: CommandSpec; flag: string };

export type ParseResult = { ok: true; command: Command } | { ok: false; problem: ParseProblem };

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '\u201c': '\u201d', '\u201d': '\u201d', '\u2018': '\u2019', '\u2019': '\u2019', '\u201e': '\u201c' };

/** Splits on whitespace; a quoted part (straight or curly quotes) is one token. */
export function tokenize(input: string): string[] {
  const tokens: string[] = [];
  const s = input.replace(/\u00a0/g, ' ').trim();
  // Where a quote character next occurs at or after a position. Positions only grow, so each character is looked at
  // once per quote kind: linear in the input, however many unmatched quotes it holds (searching afresh from every
  // opening quote was quadratic: 28 kB of them held the event loop for most of a second).
  const seen = new Map<string, number>();
  const next = (q: string, from: number): number => {
    const known = seen.get(q);
    if (known !== undefined && (known < 0 || known >= from)) return known;
    const found = s.indexOf(q, from);
    seen.set(q, found);
    return found;
  };
  let i = 0;
  while (i < s.length) {
    if (/\s/.test(s[i])) {
      i++;
      continue;
    }
    const close = QUOTES[s[i]];
    if (close) {
      let end = next(close, i + 1);
      if (end < 0) {
        // Teams sometimes sends a straight closing quote after a curly opening one.
        const ends = ['"', '\u201d', '\u2019'].map((q) => next(q, i + 1)).filter((p) => p >= 0);
        end = ends.length ? Math.min(...ends) : s.length;
      }
      tokens.push(s.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    let end = i;
    while (end < s.length && !/\s/.test(s[end])) end++;
    tokens.push(s.slice(i, end));
    i = end;
  }
  return tokens;
}

type Flags = Map<string, string | true>;

/** Flags each command accepts, and whether they take a value. */
const FLAG_SPECS: Record<string, Record<string, boolean>> = {
  users: { unlicensed: false, licensed: false, license: true, role: true, search: true, page: true },
  audit: { page: true },
  restore: { 'new-username': true },
  offboard: { to: true },
  approvals: { expires: true, 'import-over': true },
};

function splitFlags(spec: CommandSpec, tokens: string[]): { positional: string[]; flags: Flags } | ParseProblem {
  const allowed = FLAG_SPECS[spec.name] ?? {};
  const positional: string[] = [];
  const flags: Flags = new Map();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const m = /^(?:--|\u2014|\u2013)([a-z-]+)$/i.exec(token); // Teams may turn "--" into a dash
    if (!m) {
      positional.push(token);
      continue;
    }
    const name = m[1].toLowerCase();
    if (!Object.prototype.hasOwnProperty.call(allowed, name)) return { kind: 'badFlag', spec, flag: `--${name}` };
    if (allowed[name]) {
      const value = tokens[++i];
      if (value === undefined) return { kind: 'badArguments', spec };
      flags.set(name, value);
    } else {
      flags.set(name, true);
    }
  }
  return { positional, flags };
}

const list = (tokens: string[]): string[] =>
  tokens
    .join(' ')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function positiveInt(value: string | true | undefined, fallback: number): number | null {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value) || Number(value) < 1) return null;
  return Number(value);
}

function matchSpec(words: string[]): { spec: CommandSpec; used: number } | undefined {
  const lower = words.map((w) => w.toLowerCase());
  const candidates = [...COMMANDS].sort((a, b) => b.words.length - a.words.length);
  for (const spec of candidates) {
    const ok = spec.words.every((w, i) => lower[i] === w || (i > 0 && (lower[i] === `${w}s` || `${lower[i]}s` === w)));
    if (ok) return { spec, used: spec.words.length };
  }
  return undefined;
}

export function parseCommand(input: string): ParseResult {
  const tokens = tokenize(input);
  if (!tokens.length) return { ok: false, problem: { kind: 'empty' } };
  const match = matchSpec(tokens);
  if (!match) return { ok: false, problem: { kind: 'unknownCommand', word: tokens[0], suggestion: nearest(tokens.slice(0, 2).join(' ')) } };
  const { spec } = match;
  const split = splitFlags(spec, tokens.slice(match.used));
  if ('kind' in split) return { ok: false, problem: split };
  const command = build(spec, split.positional, split.flags);
  return command ? { ok: true, command } : { ok: false, problem: { kind: 'badArguments', spec } };
}

function build(spec: CommandSpec, args: string[], flags: Flags): Command | null {
  const [first, second] = args;
  switch (spec.name) {
    case 'help':
    case 'whoami':
      return args.length ? null : { name: spec.name };
    case 'customers':
      return { name: 'customers', text: args.length ? args.join(' ') : undefined };
    case 'users': {
      if (args.length !== 1) return null;
      const kinds = ['licensed', 'unlicensed', 'license'].filter((k) => flags.has(k));
      if (kinds.length > 1) return null;
      let filter: UserFilter = { kind: 'all' };
      if (flags.has('licensed')) filter = { kind: 'licensed' };
      if (flags.has('unlicensed')) filter = { kind: 'unlicensed' };
      if (flags.has('license')) filter = { kind: 'license', skuId: String(flags.get('license')).toUpperCase() };
      const role = flags.get('role');
      if (role !== undefined && !(USER_ROLES as readonly string[]).includes(String(role).toLowerCase())) return null;
      const page = positiveInt(flags.get('page'), 1);
      if (page === null) return null;
      const search = flags.get('search');
      return {
        name: 'users',
        customer: first,
        filter,
        role: role === undefined ? undefined : (String(role).toLowerCase() as UserRole),
        search: search === undefined ? undefined : String(search),
        page,
      };
    }
    case 'licenses':
    case 'addUser':
    case 'importUsers':
    case 'deletedUsers':
      return args.length === 1 ? { name: spec.name, customer: first } : null;
    case 'assign':
    case 'unassign': {
      if (args.length < 3) return null;
      const users = list(args.slice(2));
      return users.length ? { name: spec.name, skuId: first.toUpperCase(), customer: second, users } : null;
    }
    case 'replace': {
      if (args.length < 4) return null;
      const users = list(args.slice(3));
      const [from, to] = [first.toUpperCase(), second.toUpperCase()];
      return users.length && from !== to ? { name: 'replace', from, to, customer: args[2], users } : null;
    }
    case 'resetPassword':
      return args.length === 2 ? { name: 'resetPassword', customer: first, user: second } : null;
    case 'deleteUsers': {
      const users = list(args.slice(1));
      return args.length >= 2 && users.length ? { name: 'deleteUsers', customer: first, users } : null;
    }
    case 'restore': {
      const users = list(args.slice(1));
      const newUsername = flags.get('new-username');
      if (args.length < 2 || !users.length || (newUsername !== undefined && users.length !== 1)) return null;
      return { name: 'restore', customer: first, users, newUsername: newUsername === undefined ? undefined : String(newUsername) };
    }
    case 'audit': {
      const page = positiveInt(flags.get('page'), 1);
      return args.length === 1 && page !== null ? { name: 'audit', customer: first, page } : null;
    }
    case 'offboard': {
      const to = flags.get('to');
      return args.length === 2 ? { name: 'offboard', customer: first, user: second, to: to === undefined ? undefined : String(to) } : null;
    }
    case 'approvals': {
      const onOff = second?.toLowerCase();
      if (args.length !== 2 || (onOff !== 'on' && onOff !== 'off')) return null;
      const hours = flags.get('expires');
      if (hours !== undefined && (onOff !== 'on' || positiveInt(hours, 0) === null || Number(hours) > 24 * 30)) return null;
      // --import-over <rows>: imports with more ready rows need approval too; 0 = imports are not held back.
      const rows = flags.get('import-over');
      if (rows !== undefined && (onOff !== 'on' || typeof rows !== 'string' || !/^\d{1,6}$/.test(rows))) return null;
      return {
        name: 'approvals',
        customer: first,
        enabled: onOff === 'on',
        expiryHours: hours === undefined ? undefined : Number(hours),
        ...(rows === undefined ? {} : { importOver: Number(rows) }),
      };
    }
    case 'approvalsChannel':
      return args.length ? null : { name: 'approvalsChannel' };
    case 'grant': {
      const role = first?.toLowerCase();
      if (args.length !== 2 || !(AGENT_ROLES as readonly string[]).includes(role)) return null;
      return { name: 'grant', role: role as AgentRole, agent: second };
    }
    case 'revoke':
      return args.length === 1 ? { name: 'revoke', agent: first } : null;
    default:
      return null;
  }
}

/** The command whose keywords are closest to what was typed (edit distance), if reasonably close. */
export function nearest(typed: string): CommandSpec | undefined {
  // No command is within reach of a longer word (the distance is at least the difference in length), and the edit
  // distance of a huge one would cost length × command length for every command: compare a bounded prefix.
  const word = typed.slice(0, 64).toLowerCase();
  let best: { spec: CommandSpec; d: number } | undefined;
  for (const spec of COMMANDS) {
    const d = Math.min(distance(word, spec.words.join(' ')), distance(word.split(' ')[0], spec.words[0]));
    if (!best || d < best.d) best = { spec, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.spec : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
