/**
 * The Users and licenses tab's JSON API on the Microsoft Graph directory: the page's Teams SSO token (here the Entra
 * stand-in's, checked against its key set) is also the assertion the directory exchanges on behalf of the agent, so
 * the tab reads the GDAP customer and changes the tenant with the agent's own rights — the same service calls as the
 * bot's cards, seen in the stand-in's state.
 */
import { randomUUID } from 'node:crypto';
import { BulkChangeService } from '../../services/bulkChanges';
import { errorLogs, MEGAN } from '../support/botApp';
import { FakeConnector, startFakeConnector } from '../support/fakeConnector';
import { startStoryWorld, StoryWorld } from '../support/storyWorld';

let connector: FakeConnector;
let w: StoryWorld;

beforeAll(async () => {
  connector = await startFakeConnector();
});
afterAll(async () => connector.stop());
beforeEach(async () => {
  w = await startStoryWorld('graph', connector, { tab: true });
});
afterEach(async () => {
  await w.stop();
  expect(errorLogs(w.botApp.logLines)).toEqual([]);
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await fetch(`${w.botApp.url}/api/tab${path}`, {
    method,
    headers: { Authorization: `Bearer ${w.ssoTokenOf(MEGAN.aadObjectId!)}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as any };
}

test('the tab lists the GDAP customer, its users and seats from Graph, and a select-all license change lands in the tenant once', async () => {
  const customers = await call('GET', '/customers');
  expect(customers.status).toBe(200);
  expect(JSON.stringify(customers.body)).toContain('Contoso Ltd');
  const id = w.customerId;
  const unlicensed = await call('GET', `/customers/${id}/users?filter=unlicensed`);
  expect(unlicensed.status).toBe(200);
  expect(unlicensed.body.total).toBe(1);
  const selection = await call('POST', `/customers/${id}/selection`, { filter: 'unlicensed' });
  expect(selection.body).toMatchObject({ count: 1, selectionId: expect.any(String) });
  const change = { operationId: randomUUID(), selectionId: selection.body.selectionId, add: [w.E3] };
  const changed = await call('POST', `/customers/${id}/licenses`, change);
  expect(changed.status).toBe(200);
  expect(await w.licensesOf(w.userId('carol'))).toEqual([w.E3]);
  expect(await w.seats()).toMatchObject({ [w.E3]: { assigned: 4, available: 6 } });
  const again = await call('POST', `/customers/${id}/licenses`, change);
  expect(again.body.results).toEqual(changed.body.results);
  expect((await w.auditActions()).filter((a) => a === 'change-licenses')).toHaveLength(1);
});

describe('all matching beyond one change on Graph: a bulk job with the agent\u2019s sign-in', () => {
  const finished = async (customerId: string, jobId: string) => {
    for (let polls = 0; ; polls++) {
      if (polls > 5000) throw new Error('the job did not end');
      const progress = (await call('GET', `/customers/${customerId}/jobs/${jobId}`)).body;
      if (!['running', 'undoing'].includes(progress.job.state)) return progress;
    }
  };

  test('600 users deleted as one job: every one gone from the tenant, restorable', async () => {
    await w.elsewhere.createUsers(600);
    const id = w.customerId;
    const selection = await call('POST', `/customers/${id}/selection`, { search: 'temp' });
    expect(selection.body.count).toBe(600);
    const started = await call('POST', `/customers/${id}/delete`, { operationId: randomUUID(), selectionId: selection.body.selectionId });
    expect(started.status).toBe(202);
    expect(await finished(id, started.body.job.id)).toMatchObject({ job: { state: 'done', changed: 600 } });
    expect((await w.activeUpns()).filter((u) => u.startsWith('temp'))).toEqual([]);
    expect(await w.deletedIds()).toHaveLength(600);
  });

  test('a job an instance left paused (no agent to act for at start-up) goes on when its owner opens the customer', async () => {
    await w.elsewhere.createUsers(520);
    const id = w.customerId;
    const bulk = new BulkChangeService(w.botApp.app.directory);
    const selection = await call('POST', `/customers/${id}/selection`, { search: 'temp' });
    const versions = await w.botApp.app.directory.readSelection(id, selection.body.selectionId);
    const jobId = await bulk.start(id, versions as Record<string, number>, { kind: 'delete' }, { actor: { id: MEGAN.aadObjectId as string, name: MEGAN.name }, operationId: randomUUID() });
    // As at start-up: nobody's sign-in to act with, so the job waits instead of failing or turning around.
    await expect(bulk.run(id, jobId)).rejects.toMatchObject({ code: 'SIGN_IN_REQUIRED' });
    expect(await bulk.job(id, jobId)).toMatchObject({ state: 'running', processed: 0 });
    expect((await w.activeUpns()).filter((u) => u.startsWith('temp'))).toHaveLength(520);
    expect((await call('GET', `/customers/${id}`)).status).toBe(200);
    // Watched in Redis, not through the progress route (which would resume it too).
    let job = await bulk.job(id, jobId);
    for (let reads = 0; job.state === 'running'; reads++) {
      if (reads > 100_000) throw new Error('the job did not go on');
      job = await bulk.job(id, jobId);
    }
    expect(job).toMatchObject({ state: 'done', changed: 520 });
    expect((await w.activeUpns()).filter((u) => u.startsWith('temp'))).toEqual([]);
  });
});
