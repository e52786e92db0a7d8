/**
 * Redis Cluster safety of the Lua scripts, checked on what Redis actually ran: every command a script runs touches
 * only keys the script was given (KEYS), and the keys of one call all carry one customer's hash tag. Watched with
 * MONITOR, each script's commands attributed to the EVAL/EVALSHA that started them; the keys of each command come
 * from Redis itself (COMMAND GETKEYS). The cluster run enforces the one-slot rule too, on every test.
 */
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { DAY_MS } from '../../services/directory';
import { scriptSources } from '../../services/store/scripts';
import { createTestDirectory, onCluster, TestDirectory } from '../support/testDirectory';

const CID = 'contoso';
const nameOfSha = new Map(Object.entries(scriptSources).map(([name, lua]) => [createHash('sha1').update(lua).digest('hex'), name]));

/** MONITOR prints arguments escaped (\\n, \\xHH, \\\\; ioredis already turned \\" back into "): the text as sent. */
const unrepr = (shown: string): string =>
  shown.replace(/\\(x[0-9a-fA-F]{2}|[\\nrtab])/g, (_, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ '\\': '\\', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[e],
  );

interface ScriptCall {
  script: string;
  declared: string[];
  touched: Array<{ command: string; keys: string[] }>;
}

// MONITOR shows one server; the cluster run enforces the same rule through Redis Cluster's own slot checks.
const describeMonitored = onCluster() ? describe.skip : describe;

describeMonitored('every Lua script declares its keys and stays in one customer’s hash tag', () => {
  let t: TestDirectory;
  const calls: ScriptCall[] = [];
  let monitor: Redis;
  let address = '';
  const pending: Array<{ source: string; args: string[] }> = [];
  let marker: { token: string; seen: () => void } | null = null;

  beforeAll(async () => {
    t = await createTestDirectory({ passwords: 'deterministic' });
    const client = t.redis as Redis;
    address = /addr=(\S+)/.exec(String(await client.client('INFO')))?.[1] ?? '';
    monitor = await client.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === address && args[0].toLowerCase() === 'echo' && marker && args[1] === marker.token) return marker.seen();
      if (source === address || source === 'lua') pending.push({ source, args });
    });
  });

  afterAll(async () => {
    monitor?.disconnect();
    await t?.cleanup();
  });

  /** Waits until MONITOR has shown everything sent so far (an ECHO marker), then turns it into script calls. */
  async function flush(): Promise<void> {
    const token = `mark-${Math.random().toString(36).slice(2)}`;
    await new Promise<void>((resolve) => {
      marker = { token, seen: resolve };
      void (t.redis as Redis).echo(token);
    });
    marker = null;
    let current: ScriptCall | null = null;
    for (const { source, args } of pending.splice(0)) {
      const name = args[0].toLowerCase();
      if (source === address) {
        if (name === 'eval' || name === 'evalsha') {
          // ioredis sends EVAL the first time a script is used on a connection, EVALSHA afterwards.
          const sha = name === 'evalsha' ? args[1] : createHash('sha1').update(unrepr(args[1])).digest('hex');
          const script = nameOfSha.get(sha) ?? `unknown script ${sha}`;
          current = { script, declared: args.slice(3, 3 + Number(args[2])), touched: [] };
          calls.push(current);
        } else {
          current = null;
        }
        continue;
      }
      if (!current) throw new Error(`a Lua command without a script call before it: ${args.join(' ')}`);
      let keys: string[] = [];
      try {
        keys = (await (t.redis as Redis).call('COMMAND', 'GETKEYS', ...args)) as string[];
      } catch {
        keys = []; // a command without key arguments
      }
      current.touched.push({ command: name, keys });
    }
  }

  it('runs every script through the service, on success and refusal paths, and checks each call', async () => {
    const o = { actor: t.actor };
    const c = await t.seed({
      id: CID,
      users: [
        { username: 'alice', displayName: 'Alice', licenses: ['O365_E3'] },
        { username: 'bob', displayName: 'Bob', role: 'user-admin' },
        { username: 'carol', displayName: 'Carol', licenses: ['SPE_E5'] },
      ],
    });
    await t.seed({ id: 'fabrikam', name: 'Fabrikam', users: [{ username: 'fred' }] });
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => c.user(n));
    await t.directory.createUser(CID, { username: 'dave', displayName: 'Dave', usageLocation: 'US', licenses: ['O365_E3'] }, o);
    await t.directory.createUser(CID, { username: 'alice', displayName: 'Dup', usageLocation: 'US' }, o).catch(() => undefined);
    await t.directory.changeLicenses(CID, [{ userId: alice.id }, { userId: bob.id }], { add: ['SPE_E5'], remove: ['O365_E3'] }, { actor: t.actor, operationId: 'op-keys-1' });
    await t.directory.changeLicenses(CID, [{ userId: alice.id }], { add: ['SPE_E5'] }, { actor: t.actor, operationId: 'op-keys-1' }); // replay
    await t.directory.changeLicenses(CID, [{ userId: alice.id, expectedVersion: 1 }], { add: ['O365_E3'] }, o).catch(() => undefined); // STALE
    await t.directory.resetPassword(CID, { userId: bob.id }, o);
    await t.directory.deleteUsers(CID, [{ userId: carol.id }, { userId: bob.id }], o);
    await t.directory.restoreUsers(CID, [{ userId: carol.id }, { userId: 'ghost' }], o);
    t.clock.advance(31 * DAY_MS);
    await t.directory.purgeExpired();
    await t.directory.listUsers(CID);
    await t.directory.listUsers(CID, { filter: { kind: 'licensed' }, role: 'user', search: 'a' });
    await t.directory.listUsers(CID, { filter: { kind: 'license', skuId: 'SPE_E5' } });
    await t.directory.upsertCustomer({ id: CID, name: 'Contoso Ltd', domains: c.customer.domains, subscriptions: [{ skuId: 'O365_E3', name: 'Office 365 E3', seats: 30 }] }, t.actor);
    await flush();

    const ran = new Set(calls.map((x) => x.script));
    for (const script of ['pabCreateUser', 'pabChangeLicenses', 'pabResetPassword', 'pabDeleteUsers', 'pabRestoreUsers', 'pabPurgeUsers', 'pabUpsertCustomer', 'pabListUsers']) {
      expect([script, ran.has(script)]).toEqual([script, true]);
    }
    expect([...ran].filter((s) => s.startsWith('unknown'))).toEqual([]);
    expect(calls.length).toBeGreaterThan(15);
    for (const call of calls) {
      // Every key it touched was declared…
      const undeclared = call.touched.flatMap((x) => x.keys.filter((k) => !call.declared.includes(k)).map((k) => `${x.command} ${k}`));
      expect([call.script, undeclared]).toEqual([call.script, []]);
      // …and every declared key carries one customer's hash tag.
      const tags = new Set(call.declared.map((k) => /\{c:[^}]+\}/.exec(k)?.[0] ?? `no tag: ${k}`));
      expect([call.script, tags.size, [...tags][0]]).toEqual([call.script, 1, expect.stringMatching(/^\{c:(contoso|fabrikam)\}$/)]);
    }
    // The walking listing really ran commands, so the check above was not vacuous.
    expect(calls.filter((x) => x.script === 'pabListUsers').flatMap((x) => x.touched.map((y) => y.command))).toContain('zrangebylex');
  });
});
