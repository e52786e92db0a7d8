import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  buildManifest,
  buildZip,
  bundledSchemaFile,
  bundledTeamsSchemaVersions,
  checkIcons,
  packageApp,
  PLACEHOLDER_APP_ID,
  readTemplate,
  validateManifest,
} from '../scripts/packageManifest';
import { crc32, drawOutlineIcon, encodePng } from '../scripts/makeIcons';
import { menuCommands } from '../bot/commands/table';

// @microsoft/app-manifest require()s strip-bom 5, an ES module. Node 20.19+ loads it (require(esm)), Jest's module
// runtime does not. The validator never uses it (it only strips a BOM when reading manifest files), so stand in for it.
jest.mock('strip-bom', () => ({ __esModule: true, default: (s: string) => s.replace(/^\uFEFF/, '') }));

const APP_ID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const BASE = 'https://bot.contoso.com';
const MANIFEST_DIR = path.resolve(__dirname, '..', 'manifest');

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

// The validator must work offline: any attempt to fetch fails the test.
const realFetch = globalThis.fetch;
const fetchSpy = jest.fn(() => Promise.reject(new Error('network access attempted')));
beforeAll(() => {
  globalThis.fetch = fetchSpy as unknown as typeof fetch;
});
afterAll(() => {
  globalThis.fetch = realFetch;
});
afterEach(() => {
  expect(fetchSpy).not.toHaveBeenCalled();
});

// ---------------------------------------------------------------------------------------------------------------
// A zip reader written for the test (independent of the writer): central directory → local header → inflate.

interface ZipFileEntry {
  name: string;
  data: Buffer;
}

function readZip(zip: Buffer): ZipFileEntry[] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= 0; i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ZipFileEntry[] = [];
  for (let n = 0; n < count; n++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;

    expect(zip.readUInt32LE(localOffset)).toBe(0x04034b50);
    const localName = zip.toString('utf8', localOffset + 30, localOffset + 30 + zip.readUInt16LE(localOffset + 26));
    expect(localName).toBe(name);
    const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(start, start + compressedSize);
    const data = method === 8 ? zlib.inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : undefined;
    if (!data) throw new Error(`unsupported compression method ${method} for ${name}`);
    expect(data.length).toBe(size);
    expect(crc32(data)).toBe(crc);
    entries.push({ name, data });
  }
  return entries;
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

// ---------------------------------------------------------------------------------------------------------------

describe('manifest template', () => {
  const template = readTemplate() as Record<string, any>;

  it('uses a bundled official schema, version 1.23 or later, matching manifestVersion', () => {
    const m = /\/teams\/v(\d+\.\d+)\/MicrosoftTeams\.schema\.json$/.exec(template.$schema);
    expect(m).not.toBeNull();
    expect(template.manifestVersion).toBe(m![1]);
    const [major, minor] = template.manifestVersion.split('.').map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(123);
    expect(bundledTeamsSchemaVersions()).toContain(template.manifestVersion);
    expect(bundledSchemaFile(template.$schema)).toBeDefined();
  });

  it('has one command list per scope, all with the command table\'s menu', () => {
    const bot = template.bots[0];
    expect(bot.scopes).toEqual(['personal', 'team', 'groupChat']);
    expect(bot.supportsFiles).toBe(true);
    expect(bot.commandLists.map((l: any) => l.scopes)).toEqual([['personal'], ['team'], ['groupChat']]);
    // The menu in the committed file is the one `npm run package` writes from the command table.
    expect(bot.commandLists[0].commands).toEqual(menuCommands());
    expect(bot.commandLists[0].commands.map((c: any) => c.title)).toEqual(expect.arrayContaining(['help', 'users', 'add user', 'deleted users', 'restore', 'reset password']));
    for (const list of bot.commandLists) expect(list.commands).toEqual(bot.commandLists[0].commands);
  });
});

describe('the Users and licenses tab in the manifest', () => {
  it('is a personal static tab and a channel/chat configurable tab on the bot\'s own pages, with SSO for the bot\'s app', async () => {
    const { manifest } = buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.2.3' });
    const m = manifest as any;
    expect(m.staticTabs).toEqual([
      { entityId: 'users', name: 'Users and licenses', contentUrl: `${BASE}/tabs/users?locale={locale}`, websiteUrl: `${BASE}/tabs/users`, scopes: ['personal'] },
    ]);
    expect(m.configurableTabs[0]).toMatchObject({ configurationUrl: `${BASE}/tabs/users/config?locale={locale}`, scopes: ['team', 'groupChat'] });
    // The audience the tab's API accepts by default (bot/config.ts) is this resource.
    expect(m.webApplicationInfo).toEqual({ id: APP_ID, resource: `api://bot.contoso.com/botid-${APP_ID}` });
    expect(await validateManifest(manifest)).toEqual([]);
  });
});

describe('buildManifest', () => {
  it('fills the app id, bot id, version and valid domain', () => {
    const { manifest, warnings } = buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.2.3' });
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots![0]!.botId).toBe(APP_ID);
    expect(manifest.version).toBe('1.2.3');
    expect(manifest.validDomains).toEqual(['bot.contoso.com']);
    expect(manifest.developer.websiteUrl).toBe(BASE);
    expect(JSON.stringify(manifest)).not.toContain('${{');
    expect(warnings).toEqual([]);
  });

  it('uses a placeholder id and warns when MicrosoftAppId is unset; drops a loopback valid domain', () => {
    const { manifest, warnings } = buildManifest({ publicBaseUrl: 'http://localhost:3978', version: '0.1.0' });
    expect(manifest.id).toBe(PLACEHOLDER_APP_ID);
    expect(manifest.bots![0]!.botId).toBe(PLACEHOLDER_APP_ID);
    expect(manifest.validDomains).toEqual([]);
    expect(warnings.join('\n')).toMatch(/MicrosoftAppId is not set/);
    expect(warnings.join('\n')).toMatch(/https/);
  });

  it('rejects an unknown placeholder in the template', () => {
    const template = clone(readTemplate()) as Record<string, unknown>;
    template.version = '${{APP_VERSON}}';
    expect(() => buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.0.0' }, template)).toThrow(
      /unknown placeholder.*APP_VERSON/,
    );
  });

  it('can take the commands from elsewhere (the bot command table)', () => {
    const commands = [{ title: 'help', description: 'Show what I can do' }];
    const { manifest } = buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.0.0', commands });
    for (const list of manifest.bots![0]!.commandLists!) expect(list.commands).toEqual(commands);
  });
});

describe('validateManifest (offline, official schema)', () => {
  const good = () => buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.0.0' }).manifest;

  it('passes for the built manifest', async () => {
    expect(await validateManifest(good())).toEqual([]);
    expect(await validateManifest(buildManifest({ publicBaseUrl: 'http://localhost:3978', version: '0.1.0' }).manifest)).toEqual([]);
  });

  it('reports a missing developer and a bad scope', async () => {
    const broken = clone(good()) as any;
    delete broken.developer;
    broken.bots[0].scopes = ['personal', 'channel'];
    const errors = await validateManifest(broken);
    expect(errors.some((e) => /required property 'developer'/.test(e))).toBe(true);
    expect(errors.some((e) => e.startsWith('/bots/0/scopes/1') && /allowed values/.test(e))).toBe(true);
  });

  it('reports a bad id, a bad accent colour and a missing icon', async () => {
    const broken = clone(good()) as any;
    broken.id = 'not-a-guid';
    broken.accentColor = 'blue';
    delete broken.icons.outline;
    const errors = await validateManifest(broken);
    expect(errors.some((e) => e.startsWith('/id '))).toBe(true);
    expect(errors.some((e) => e.startsWith('/accentColor '))).toBe(true);
    expect(errors.some((e) => e.startsWith('/icons ') && /outline/.test(e))).toBe(true);
  });

  it('reports commands longer than Teams shows', async () => {
    const broken = clone(good()) as any;
    broken.bots[0].commandLists[1].commands[0].title = 'x'.repeat(33);
    broken.bots[0].commandLists[1].commands[0].description = 'y'.repeat(129);
    const errors = await validateManifest(broken);
    expect(errors).toEqual([
      '/bots/0/commandLists/1/commands/0/title is 33 characters; Teams shows at most 32',
      '/bots/0/commandLists/1/commands/0/description is 129 characters; Teams shows at most 128',
    ]);
  });

  it('refuses a schema it would have to download', async () => {
    const other = clone(good()) as any;
    other.$schema = 'https://example.com/MicrosoftTeams.schema.json';
    const errors = await validateManifest(other);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/cannot be validated offline/);
  });
});

describe('checkIcons', () => {
  const manifest = buildManifest({ appId: APP_ID, publicBaseUrl: BASE, version: '1.0.0' }).manifest;
  const files = () =>
    new Map<string, Buffer>([
      ['color.png', fs.readFileSync(path.join(MANIFEST_DIR, 'color.png'))],
      ['outline.png', fs.readFileSync(path.join(MANIFEST_DIR, 'outline.png'))],
    ]);

  it('accepts the committed icons', () => {
    expect(checkIcons(manifest, files())).toEqual([]);
  });

  it('reports a missing file, a wrong size and a coloured outline', () => {
    const f = files();
    f.delete('color.png');
    const outline = drawOutlineIcon(48);
    const pixels = new Uint8Array(outline.pixels);
    const i = pixels.findIndex((v, k) => k % 4 === 3 && v > 0);
    pixels[i - 3] = 0; // one visible pixel that is not white
    f.set('outline.png', encodePng({ width: 48, height: 48, pixels }));
    expect(checkIcons(manifest, f)).toEqual([
      'icons.color: file color.png is missing from the package',
      'icons.outline: outline.png is 48×48; Teams needs 32×32',
      'icons.outline: outline.png has 1 pixels that are not white; use white only',
    ]);
  });
});

describe('packageApp → app.zip', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-test-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a zip with exactly the manifest and the two icons at its root', async () => {
    const zipFile = path.join(dir, 'app.zip');
    const result = await packageApp({ MicrosoftAppId: APP_ID, PUBLIC_BASE_URL: BASE }, { zipFile });
    expect(result.errors).toEqual([]);
    expect(result.zipFile).toBe(zipFile);

    const entries = readZip(fs.readFileSync(zipFile));
    expect(entries.map((e) => e.name).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const byName = new Map(entries.map((e) => [e.name, e.data]));
    expect(pngSize(byName.get('color.png')!)).toEqual({ width: 192, height: 192 });
    expect(pngSize(byName.get('outline.png')!)).toEqual({ width: 32, height: 32 });

    const manifest = JSON.parse(byName.get('manifest.json')!.toString('utf8'));
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots[0].botId).toBe(APP_ID);
    expect(manifest.validDomains).toEqual(['bot.contoso.com']);
    expect(await validateManifest(manifest)).toEqual([]);
  });

  it('is reproducible byte for byte', async () => {
    const a = path.join(dir, 'a.zip');
    const b = path.join(dir, 'b.zip');
    await packageApp({ MicrosoftAppId: APP_ID }, { zipFile: a });
    await packageApp({ MicrosoftAppId: APP_ID }, { zipFile: b });
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
  });

  it('writes nothing and lists every problem when the manifest is invalid', async () => {
    const zipFile = path.join(dir, 'broken.zip');
    const template = clone(readTemplate()) as any;
    delete template.developer;
    template.bots[0].scopes = ['personal', 'channel'];
    const result = await packageApp({ MicrosoftAppId: APP_ID }, { zipFile, template });
    expect(result.errors.length).toBeGreaterThanOrEqual(2);
    expect(result.zipFile).toBeUndefined();
    expect(fs.existsSync(zipFile)).toBe(false);
  });

  it('stops on a bad setting with the settings message', async () => {
    const result = await packageApp({ MicrosoftAppId: 'abc', PUBLIC_BASE_URL: BASE }, { zipFile: path.join(dir, 'x.zip') });
    expect(result.errors).toEqual([
      `Invalid setting MicrosoftAppId: must be a GUID: the Application (client) ID of the bot's Microsoft Entra app registration (got "abc")`,
    ]);
  });

  it('does not need the bot password to package', async () => {
    const result = await packageApp(
      { MicrosoftAppId: APP_ID, MicrosoftAppType: 'SingleTenant' },
      { zipFile: path.join(dir, 'y.zip') },
    );
    expect(result.errors).toEqual([]);
  });
});

describe('buildZip', () => {
  it('round-trips stored names and contents, including empty and UTF-8 names', () => {
    const entries = [
      { name: 'a.txt', data: Buffer.from('hello '.repeat(100)) },
      { name: 'empty', data: Buffer.alloc(0) },
      { name: 'ünïcode.json', data: Buffer.from('{"k":"✓"}') },
    ];
    const read = readZip(buildZip(entries));
    expect(read.map((e) => [e.name, e.data.toString('utf8')])).toEqual(entries.map((e) => [e.name, e.data.toString('utf8')]));
  });
});
