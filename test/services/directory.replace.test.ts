import { createTestDirectory, directoryErrorOf, SeededCustomer, TestDirectory } from '../support/testDirectory';

let t: TestDirectory;
let c: SeededCustomer;
beforeEach(async () => {
  t = await createTestDirectory();
  c = await t.seed({
    subscriptions: [
      { skuId: 'O365_E3', name: 'Office 365 E3', seats: 10 },
      { skuId: 'SPE_E5', name: 'Microsoft 365 E5', seats: 2 },
      { skuId: 'VISIO', name: 'Visio', seats: 5 },
    ],
    users: [
      { username: 'alice', licenses: ['O365_E3', 'VISIO'] },
      { username: 'bob', licenses: ['O365_E3'] },
      { username: 'carol', licenses: ['VISIO'] },
    ],
  });
});
afterEach(() => t.cleanup());

const licenses = async (name: string) => (await t.directory.getUser('contoso', c.user(name).id)).licenses;
const seats = async () => Object.fromEntries((await t.directory.getSubscriptions('contoso')).map((s) => [s.skuId, s.assignedSeats]));

it('moves only the holders of the old license, keeping their other licenses', async () => {
  const results = await t.directory.changeLicenses('contoso', ['alice', 'bob', 'carol'].map((n) => ({ userId: c.user(n).id })), { replace: { from: 'O365_E3', to: 'SPE_E5' } }, { actor: t.actor });
  expect(results.map((r) => [r.changed, r.added, r.removed])).toEqual([
    [true, ['SPE_E5'], ['O365_E3']],
    [true, ['SPE_E5'], ['O365_E3']],
    [false, [], []],
  ]);
  expect(await licenses('alice')).toEqual(['SPE_E5', 'VISIO']);
  expect(await licenses('bob')).toEqual(['SPE_E5']);
  expect(await licenses('carol')).toEqual(['VISIO']);
  expect(await seats()).toEqual({ O365_E3: 0, SPE_E5: 2, VISIO: 2 });
});

it('changes nothing when the new license has too few seats for every holder', async () => {
  await t.directory.changeLicenses('contoso', [{ userId: c.user('carol').id }], { add: ['SPE_E5'] }, { actor: t.actor });
  const err = await directoryErrorOf(
    t.directory.changeLicenses('contoso', ['alice', 'bob'].map((n) => ({ userId: c.user(n).id })), { replace: { from: 'O365_E3', to: 'SPE_E5' } }, { actor: t.actor }),
  );
  expect(err).toMatchObject({ code: 'NO_SEATS', params: { license: 'SPE_E5', seatsLeft: 1, seatsNeeded: 2 } });
  expect(await licenses('alice')).toEqual(['O365_E3', 'VISIO']);
  expect(await seats()).toEqual({ O365_E3: 2, SPE_E5: 1, VISIO: 2 });
});
