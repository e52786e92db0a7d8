/**
 * Writes data/demo.json: three customers of different sizes, subscriptions some full and some with
 * seats left. Deterministic, so the committed file only changes when this script does.
 * Run: npx tsx scripts/makeDemoData.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FIRST = ['Alex', 'Megan', 'Adele', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia', 'Lynne',
  'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Sakura', 'Min-jun', 'Ji-woo', 'Seo-yeon', 'Amara', 'Kofi', 'Lucía', 'Mateo',
  'Noor', 'Omar', 'Priya', 'Ravi', 'Sofia', 'Tomás'];
const LAST = ['Wilber', 'Bowen', 'Vance', 'Siciliani', 'Archie', 'Cantrell', 'Langer', 'Lauer', 'Sherman', 'Gu', 'Holloway',
  'Robbins', 'Graham', 'Wilke', 'Fernandez', 'Gupta', 'Tanaka', 'Kim', 'Park', 'Lee', 'Okafor', 'Mensah', 'García', 'Rossi'];

function ascii(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9-]/g, '');
}

function makeUsers(count: number, skus: Array<{ skuId: string; every: number }>, roles: Record<number, string> = {}) {
  const users = [];
  for (let i = 0; i < count; i++) {
    const firstName = FIRST[i % FIRST.length];
    const lastName = LAST[Math.floor(i / FIRST.length) % LAST.length];
    const suffix = i >= FIRST.length * LAST.length ? String(Math.floor(i / (FIRST.length * LAST.length)) + 1) : '';
    const licenses = skus.filter((s) => i % s.every === 0).map((s) => s.skuId);
    users.push({
      username: `${ascii(firstName)}.${ascii(lastName)}${suffix}`,
      firstName,
      lastName,
      displayName: `${firstName} ${lastName}${suffix ? ' ' + suffix : ''}`,
      usageLocation: i % 7 === 0 ? 'KR' : 'US',
      role: roles[i] ?? 'user',
      licenses,
    });
  }
  return users;
}

const demo = {
  customers: [
    {
      id: 'contoso',
      name: 'Contoso Ltd',
      domains: ['contoso.onmicrosoft.com', 'contoso.com'],
      subscriptions: [
        { skuId: 'O365_E3', name: 'Office 365 E3', seats: 250 },
        { skuId: 'M365_E5', name: 'Microsoft 365 E5', seats: 60 },
        { skuId: 'POWER_BI_PRO', name: 'Power BI Pro', seats: 30 },
        { skuId: 'VISIO_P2', name: 'Visio Plan 2', seats: 10 },
      ],
      // 300 users: E3 for two in three (200), E5 for one in five (60, full), Power BI for one in ten (30, full).
      users: makeUsers(300, [{ skuId: 'M365_E5', every: 5 }, { skuId: 'POWER_BI_PRO', every: 10 }],
        { 0: 'global-admin', 1: 'user-admin', 2: 'helpdesk-admin', 3: 'billing-admin' }).map((u, i) => ({
        ...u,
        licenses: [...(i % 3 !== 2 ? ['O365_E3'] : []), ...u.licenses],
      })),
    },
    {
      id: 'fabrikam',
      name: 'Fabrikam Inc',
      domains: ['fabrikam.onmicrosoft.com', 'fabrikam.com'],
      subscriptions: [
        { skuId: 'M365_BP', name: 'Microsoft 365 Business Premium', seats: 40 },
        { skuId: 'EXCHANGE_P1', name: 'Exchange Online (Plan 1)', seats: 10 },
      ],
      users: makeUsers(40, [{ skuId: 'M365_BP', every: 1 }, { skuId: 'EXCHANGE_P1', every: 8 }], { 0: 'global-admin' }),
    },
    {
      id: 'tailspin',
      name: 'Tailspin Toys',
      domains: ['tailspintoys.onmicrosoft.com'],
      subscriptions: [
        { skuId: 'M365_BB', name: 'Microsoft 365 Business Basic', seats: 10 },
        { skuId: 'TEAMS_ESS', name: 'Microsoft Teams Essentials', seats: 5 },
      ],
      users: makeUsers(5, [{ skuId: 'M365_BB', every: 1 }], { 0: 'global-admin' }),
    },
  ],
};

writeFileSync(join(__dirname, '..', 'data', 'demo.json'), JSON.stringify(demo, null, 2) + '\n');
console.log('wrote data/demo.json');
