/**
 * The Users and licenses tab's JSON API on the Microsoft Graph directory: the page's Teams SSO token (here the Entra
 * stand-in's, checked against its key set) is also the assertion the directory exchanges on behalf of the agent, so
 * the tab reads the GDAP customer and changes the tenant with the agent's own rights — the same service calls as the
 * bot's cards, seen in the stand-in's state.
 */
import { randomUUID } from 'node:crypto';
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
