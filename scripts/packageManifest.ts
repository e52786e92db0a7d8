/**
 * Builds the Teams app package: `npm run package` → manifest/build/app.zip (manifest.json, color.png, outline.png).
 *
 * 1. Fills manifest/manifest.json's `${{NAME}}` placeholders from the environment (MicrosoftAppId,
 *    PUBLIC_BASE_URL, validated by bot/config.ts) and package.json's version.
 * 2. Validates the result offline against the official Teams schema bundled with `@microsoft/app-manifest`
 *    (never downloaded), plus a few Teams rules the schema does not express (command text lengths, icon sizes,
 *    outline icon colours).
 * 3. Prints every problem and exits 1 on any; otherwise writes the zip.
 */
import { menuCommands } from '../bot/commands/table';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { AppManifestUtils, type AppManifest, type TeamsManifestV1D30 } from '@microsoft/app-manifest';
import { DEFAULT_PORT, loadSomeSettings, SettingsError } from '../bot/config';
import { crc32, decodePng, MANIFEST_DIR, readPngHeader } from './makeIcons';

export type TeamsManifest = TeamsManifestV1D30.TeamsManifestV1D30;

export const TEMPLATE_FILE = path.join(MANIFEST_DIR, 'manifest.json');
/** Used for `id` and `botId` when MicrosoftAppId is unset: enough to validate and to try the package locally. */
export const PLACEHOLDER_APP_ID = '00000000-0000-4000-8000-00000000b07a';

/** Limits Teams clients enforce on bot menu commands (manifest schemas up to 1.22 encoded them; later ones allow more). */
export const COMMAND_TITLE_MAX = 32;
export const COMMAND_DESCRIPTION_MAX = 128;
export const ICON_SIZES = { color: 192, outline: 32 } as const;

export interface ManifestInputs {
  /** MicrosoftAppId; unset → PLACEHOLDER_APP_ID and a warning. */
  readonly appId?: string;
  /** http(s) URL without a trailing slash. */
  readonly publicBaseUrl: string;
  /** The app's semver version (package.json's). */
  readonly version: string;
  /** Replaces the commands of every command list (for deriving them from the bot's command table). */
  readonly commands?: ReadonlyArray<{ title: string; description: string }>;
}

export interface BuiltManifest {
  readonly manifest: TeamsManifest;
  readonly warnings: string[];
}

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

// ---------------------------------------------------------------------------------------------------------------
// Build

export function readTemplate(file = TEMPLATE_FILE): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function appVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '1.0.0';
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0']);

/** Fills the template's placeholders. Throws on a placeholder it does not know (a typo in the template). */
export function buildManifest(inputs: ManifestInputs, template: unknown = readTemplate()): BuiltManifest {
  const warnings: string[] = [];
  const appId = inputs.appId ?? PLACEHOLDER_APP_ID;
  if (inputs.appId === undefined) {
    warnings.push(
      `MicrosoftAppId is not set: the package uses the placeholder id ${PLACEHOLDER_APP_ID}. ` +
        'Set MicrosoftAppId to your bot registration before uploading the package to Teams.',
    );
  }
  const base = new URL(inputs.publicBaseUrl);
  const values: Record<string, string> = {
    MicrosoftAppId: appId,
    PUBLIC_BASE_URL: inputs.publicBaseUrl,
    PUBLIC_HOSTNAME: base.hostname,
    APP_VERSION: inputs.version,
  };
  const unknown = new Set<string>();
  const fill = (node: unknown): unknown => {
    if (typeof node === 'string') {
      return node.replace(/\$\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (match, name: string) => {
        if (!(name in values)) {
          unknown.add(name);
          return match;
        }
        return values[name]!;
      });
    }
    if (Array.isArray(node)) return node.map(fill);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v)]));
    }
    return node;
  };
  const manifest = fill(template) as TeamsManifest;
  if (unknown.size > 0) throw new Error(`manifest template: unknown placeholder(s) ${[...unknown].map((n) => `\${{${n}}}`).join(', ')}`);

  if (inputs.commands) {
    for (const bot of manifest.bots ?? []) {
      for (const list of bot.commandLists ?? []) list.commands = inputs.commands.map((c) => ({ ...c }));
    }
  }
  if (manifest.validDomains) {
    // Teams has no use for a loopback host (it cannot reach it), and rejects it in validDomains.
    manifest.validDomains = manifest.validDomains.filter((d) => d !== '' && !LOCAL_HOSTS.has(d));
  }
  if (base.protocol !== 'https:' || LOCAL_HOSTS.has(base.hostname)) {
    warnings.push(
      `PUBLIC_BASE_URL is ${inputs.publicBaseUrl}: Teams needs a public https address for the developer links and ` +
        'validDomains. This package is fine for local tries only.',
    );
  }
  return { manifest, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// Validate (offline)

/** The directory holding the JSON schemas shipped inside @microsoft/app-manifest. */
function bundledSchemaDir(): string {
  return path.join(path.dirname(require.resolve('@microsoft/app-manifest')), 'json-schemas');
}

/**
 * Maps an official schema URL (`https://developer.microsoft.com/[en-us/]json-schemas/teams/v1.30/MicrosoftTeams.schema.json`)
 * to the copy bundled in @microsoft/app-manifest, or undefined when the package does not ship it.
 */
export function bundledSchemaFile(schemaUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(schemaUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.hostname !== 'developer.microsoft.com') return undefined;
  const m = /^(?:\/[a-z]{2}(?:-[a-z]{2})?)?\/json-schemas\/teams\/(v[0-9]+\.[0-9]+|vDevPreview)\/MicrosoftTeams\.schema\.json$/i.exec(
    url.pathname,
  );
  if (!m) return undefined;
  const file = path.join(bundledSchemaDir(), 'teams', m[1]!, 'MicrosoftTeams.schema.json');
  return fs.existsSync(file) ? file : undefined;
}

/** Teams schema versions bundled with @microsoft/app-manifest, oldest first (e.g. "1.30"). */
export function bundledTeamsSchemaVersions(): string[] {
  return fs
    .readdirSync(path.join(bundledSchemaDir(), 'teams'))
    .filter((d) => /^v\d+\.\d+$/.test(d))
    .map((d) => d.slice(1))
    .sort((a, b) => {
      const [a1, a2] = a.split('.').map(Number);
      const [b1, b2] = b.split('.').map(Number);
      return a1! - b1! || a2! - b2!;
    });
}

function loadSchema(file: string): object {
  // Same clean-up as @microsoft/app-manifest's own loader: some schemas contain \a and \v escapes, invalid in JSON.
  const text = fs.readFileSync(file, 'utf8').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b');
  return JSON.parse(text) as object;
}

/**
 * Validates a manifest object against the official schema named by its `$schema`, loaded from the copy bundled with
 * @microsoft/app-manifest (so it never touches the network), plus the command-length limits Teams clients apply.
 * Returns one readable line per problem; empty when valid.
 */
export async function validateManifest(manifest: unknown): Promise<string[]> {
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) return ['manifest: must be a JSON object'];
  const m = manifest as Record<string, unknown>;
  const schemaUrl = m.$schema;
  if (typeof schemaUrl !== 'string') return ['$schema: missing; it must name the official Teams manifest schema'];
  const schemaFile = bundledSchemaFile(schemaUrl);
  if (!schemaFile) {
    return [
      `$schema: ${schemaUrl} is not an official Teams schema bundled with @microsoft/app-manifest ` +
        `(bundled: ${bundledTeamsSchemaVersions().join(', ')}), so it cannot be validated offline`,
    ];
  }
  // The library's types describe one manifest version each; the JSON schema is the real contract here.
  const schema = loadSchema(schemaFile) as Parameters<typeof AppManifestUtils.validateAgainstSchema>[1];
  const errors = (await AppManifestUtils.validateAgainstSchema(manifest as AppManifest, schema)).map((e) =>
    e.startsWith(' ') ? `(root)${e}` : e,
  );

  const bots = Array.isArray(m.bots) ? (m.bots as Array<Record<string, unknown>>) : [];
  bots.forEach((bot, b) => {
    const lists = Array.isArray(bot?.commandLists) ? (bot.commandLists as Array<Record<string, unknown>>) : [];
    lists.forEach((list, l) => {
      const commands = Array.isArray(list?.commands) ? (list.commands as Array<Record<string, unknown>>) : [];
      commands.forEach((c, i) => {
        const where = `/bots/${b}/commandLists/${l}/commands/${i}`;
        if (typeof c?.title === 'string' && c.title.length > COMMAND_TITLE_MAX) {
          errors.push(`${where}/title is ${c.title.length} characters; Teams shows at most ${COMMAND_TITLE_MAX}`);
        }
        if (typeof c?.description === 'string' && c.description.length > COMMAND_DESCRIPTION_MAX) {
          errors.push(
            `${where}/description is ${c.description.length} characters; Teams shows at most ${COMMAND_DESCRIPTION_MAX}`,
          );
        }
      });
    });
  });
  return errors;
}

/** Checks the icon files the manifest names: present, PNG, right size; the outline only white on transparent. */
export function checkIcons(manifest: TeamsManifest, files: ReadonlyMap<string, Buffer>): string[] {
  const errors: string[] = [];
  for (const kind of ['color', 'outline'] as const) {
    const name = manifest.icons?.[kind];
    if (!name) continue; // the schema check reports it
    const data = files.get(name);
    const size = ICON_SIZES[kind];
    if (!data) {
      errors.push(`icons.${kind}: file ${name} is missing from the package`);
      continue;
    }
    let header;
    try {
      header = readPngHeader(data);
    } catch {
      errors.push(`icons.${kind}: ${name} is not a PNG file`);
      continue;
    }
    if (header.width !== size || header.height !== size) {
      errors.push(`icons.${kind}: ${name} is ${header.width}×${header.height}; Teams needs ${size}×${size}`);
    }
    if (kind === 'outline') {
      if (header.colorType !== 6 && header.colorType !== 4) {
        errors.push(`icons.outline: ${name} has no alpha channel; it must be white on a transparent background`);
        continue;
      }
      let image;
      try {
        image = decodePng(data);
      } catch (e) {
        errors.push(`icons.outline: ${name} could not be checked (${(e as Error).message}); save it as 8-bit RGBA`);
        continue;
      }
      let coloured = 0;
      let opaque = 0;
      for (let i = 0; i < image.pixels.length; i += 4) {
        const a = image.pixels[i + 3]!;
        if (a === 0) continue;
        opaque++;
        if (image.pixels[i] !== 255 || image.pixels[i + 1] !== 255 || image.pixels[i + 2] !== 255) coloured++;
      }
      if (coloured > 0) errors.push(`icons.outline: ${name} has ${coloured} pixels that are not white; use white only`);
      if (opaque === image.width * image.height) {
        errors.push(`icons.outline: ${name} has no transparent pixels; the background must be transparent`);
      }
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------------------------
// Zip (PKZIP, deflate; no dependency)

/** 1 Jan 2025 00:00 in MS-DOS format: a fixed stamp keeps the package byte-for-byte reproducible. */
const DOS_TIME = 0;
const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;

export function buildZip(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = zlib.deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // flags: names are UTF-8
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4); // version made by: 2.0, MS-DOS attributes
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(DOS_TIME, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(compressed.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal and external attributes: all 0
    header.writeUInt32LE(offset, 42);

    parts.push(local, name, compressed);
    central.push(header, name);
    offset += local.length + name.length + compressed.length;
  }
  const centralDir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralDir, end]);
}

export function writeZip(file: string, entries: readonly ZipEntry[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, buildZip(entries));
}

// ---------------------------------------------------------------------------------------------------------------
// The whole step

export interface PackageResult {
  readonly manifest?: TeamsManifest;
  readonly errors: string[];
  readonly warnings: string[];
  /** Set when the zip was written (no errors). */
  readonly zipFile?: string;
}

export async function packageApp(
  env: NodeJS.ProcessEnv = process.env,
  options: { manifestDir?: string; zipFile?: string; template?: unknown } = {},
): Promise<PackageResult> {
  const manifestDir = options.manifestDir ?? MANIFEST_DIR;
  let settings;
  try {
    settings = loadSomeSettings(['MicrosoftAppId', 'PUBLIC_BASE_URL', 'PORT'], env);
  } catch (e) {
    if (e instanceof SettingsError) return { errors: e.message.split('\n'), warnings: [] };
    throw e;
  }
  const { manifest, warnings } = buildManifest(
    {
      appId: settings.MicrosoftAppId,
      publicBaseUrl: settings.PUBLIC_BASE_URL ?? `http://localhost:${settings.PORT ?? DEFAULT_PORT}`,
      version: appVersion(),
      commands: menuCommands(),
    },
    options.template ?? readTemplate(path.join(manifestDir, 'manifest.json')),
  );

  const files = new Map<string, Buffer>();
  for (const name of [manifest.icons?.color, manifest.icons?.outline]) {
    if (!name) continue;
    const file = path.join(manifestDir, name);
    if (fs.existsSync(file)) files.set(name, fs.readFileSync(file));
  }
  const errors = [...(await validateManifest(manifest)), ...checkIcons(manifest, files)];
  if (errors.length > 0) return { manifest, errors, warnings };

  const zipFile = options.zipFile ?? path.join(manifestDir, 'build', 'app.zip');
  writeZip(zipFile, [
    { name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8') },
    ...[...files].map(([name, data]) => ({ name, data })), // at the names the manifest gives (the zip's root)
  ]);
  return { manifest, errors, warnings, zipFile };
}

async function main(): Promise<number> {
  const result = await packageApp();
  for (const w of result.warnings) console.warn(`warning: ${w}`);
  if (result.errors.length > 0) {
    console.error(`The Teams app package was not written: ${result.errors.length} problem(s).`);
    for (const e of result.errors) console.error(`  ${e}`);
    return 1;
  }
  console.log(
    `Manifest valid (schema ${result.manifest?.manifestVersion}); wrote ${path.relative(process.cwd(), result.zipFile!)}`,
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
