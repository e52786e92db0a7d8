/**
 * Bulk import on the Microsoft Graph directory: the same ImportService and job state in Redis; the rows' creates go to
 * Graph in JSON batches of 20. A crash in the middle of a batch (Graph's replies lost as the instance dies, its
 * operation claims left behind) resumes on a new instance to one user per row, every password usable.
 */
import { parse } from 'csv-parse/sync';
import { runAsCaller } from '../../services/caller';
import { CredentialVault } from '../../services/credentials';
import { DirectoryService } from '../../services/directory';
import { createGraphDirectory } from '../../services/directories/graph';
import { ImportOptions, ImportResult, ImportService } from '../../services/import/importer';
import { SeededTenant } from '../support/graph';
import { createGraphTestDirectory, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GraphTestDirectory, PARTNER_TENANT } from '../support/graphDirectory';
import { partnerCenterCsv } from '../support/importCsv';

const ROWS = 120;
const FILE = partnerCenterCsv(ROWS, { domain: 'contoso.onmicrosoft.com', licenses: (i) => (i % 3 === 0 ? 'ENTERPRISEPACK;SPE_E5' : '') });
const OPTIONS: ImportOptions = { mode: 'validRows', usageLocation: 'US', licenses: ['ENTERPRISEPACK'] };

let t: GraphTestDirectory;
let c: SeededTenant;
beforeEach(async () => {
  t = await createGraphTestDirectory();
  c = t.seed({ skus: [{ skuPartNumber: 'ENTERPRISEPACK', seats: 500 }, { skuPartNumber: 'SPE_E5', seats: 100 }], users: [{ username: 'alice', licenses: ['ENTERPRISEPACK'] }] });
});
afterEach(async () => t.cleanup());

/** A bot instance: its own Graph directory (own token cache) over the same Redis, its own fetch. */
function instance(fetchImpl: typeof fetch = fetch): { directory: DirectoryService; importer: ImportService; vault: CredentialVault } {
  const backend = createGraphDirectory({
    graphBaseUrl: t.graph.graphBaseUrl, authorityHost: t.graph.authorityHost, clientId: GRAPH_CLIENT_ID, clientSecret: GRAPH_CLIENT_SECRET,
    partnerTenantId: PARTNER_TENANT, redis: t.redis, keys: t.keys, now: () => t.clock.now(), sleep: async () => undefined, fetch: fetchImpl,
  });
  const directory = new DirectoryService({ redis: t.redis, keys: t.keys, clock: t.clock, backend });
  const vault = new CredentialVault(t.redis, t.keys, t.clock);
  return { directory, importer: new ImportService(directory, vault), vault };
}

async function startJob(importer: ImportService): Promise<string> {
  const p = await importer.preview(c.tenantId, FILE, 'users.csv', t.admin);
  if (!p.ok) throw new Error(JSON.stringify(p.problem));
  expect(p.preview.total).toBe(ROWS);
  expect((await importer.start(c.tenantId, p.preview.jobId, t.admin, OPTIONS)).started).toBe(true);
  return p.preview.jobId;
}

async function resultsOf(vault: CredentialVault, result: ImportResult | null): Promise<Array<Record<string, string>>> {
  if (!result) throw new Error('the run returned null');
  const download = await vault.redeemDownload(result.downloadToken);
  if (!download.ok) throw new Error('results download is gone');
  return parse(download.content, { bom: true, columns: true }) as Array<Record<string, string>>;
}

const imported = () => t.graph.tenant(c.tenantId).users().filter((u) => u.userPrincipalName.startsWith('user'));

test('an import creates every row in the tenant through JSON batches of at most 20, with usable passwords', async () => {
  const one = instance();
  const result = await t.asAgent(t.admin, async () => one.importer.run(c.tenantId, await startJob(one.importer)));
  expect(result).toMatchObject({ state: 'done', created: ROWS, failed: 0 });
  expect(imported()).toHaveLength(ROWS);
  expect(t.graph.tenant(c.tenantId).skus().find((s) => s.skuPartNumber === 'SPE_E5')?.consumedUnits).toBe(ROWS / 3);
  // One POST /users per row, nearly all of them inside batches (a row whose create found no company in its tick goes alone).
  expect(t.graph.countRequests({ method: 'POST', path: '/users' })).toBe(ROWS);
  expect(t.graph.countRequests({ method: 'POST', path: '/users', inBatch: true })).toBeGreaterThanOrEqual(ROWS * 0.8);
  expect(t.graph.countRequests({ method: 'POST', path: '/$batch' })).toBeGreaterThanOrEqual(ROWS / 20);
  const rows = await resultsOf(one.vault, result);
  for (const row of rows.filter((_, i) => i % 10 === 0)) {
    const upn = row['Status update'].slice('Created '.length);
    expect(t.graph.verifyPassword(c.tenantId, t.graph.tenant(c.tenantId).user(upn)!.id, row['Temporary password'])).toBe(true);
  }
});

test('a crash in the middle of a batch resumes on another instance: no row is created twice, every password works', async () => {
  // The first instance dies as its third batch of creates is applied: Graph applied them, their replies are lost, and
  // nothing else that instance sends arrives.
  let batches = 0;
  let dead = false;
  const dying: typeof fetch = async (input, init) => {
    if (dead) throw new Error('instance killed');
    const response = await fetch(input, init);
    if (String(input).endsWith('/$batch') && String(init?.body ?? '').includes('"url":"/users"') && ++batches === 3) {
      dead = true;
      throw new Error('instance killed');
    }
    return response;
  };
  const first = instance(dying);
  const jobId = await t.asAgent(t.admin, () => startJob(first.importer));
  await expect(t.asAgent(t.admin, () => first.importer.run(c.tenantId, jobId))).rejects.toThrow();
  const createdBeforeCrash = imported().length;
  expect(createdBeforeCrash).toBeGreaterThan(0);
  expect(createdBeforeCrash).toBeLessThan(ROWS);

  // A new instance, a minute later (the dead one's claims have lapsed), resumes the job.
  t.clock.advance(61_000);
  const second = instance();
  const sso = await t.graph.issueUserToken({ agentId: t.admin.id, name: t.admin.name, tenantId: PARTNER_TENANT, audience: GRAPH_CLIENT_ID, expiresInSeconds: 3600 });
  const result = await runAsCaller({ actor: t.admin, userAssertion: async () => sso }, () => second.importer.run(c.tenantId, jobId));
  expect(result).toMatchObject({ state: 'done', created: ROWS, failed: 0 });
  expect(result!.passwordsRenewed).toBeGreaterThan(0);
  const users = imported();
  expect(users).toHaveLength(ROWS);
  expect(new Set(users.map((u) => u.userPrincipalName.toLowerCase())).size).toBe(ROWS);
  const rows = await resultsOf(second.vault, result);
  expect(rows).toHaveLength(ROWS);
  for (const row of rows) {
    const upn = row['Status update'].slice('Created '.length);
    expect(t.graph.verifyPassword(c.tenantId, t.graph.tenant(c.tenantId).user(upn)!.id, row['Temporary password'])).toBe(true);
  }
});
