/**
 * The repository stands on its own: every link of its Markdown pages (README.md, docs/, test/fixtures/…) points at a
 * file inside the repository — and, for a page#heading link, at a heading of that page — or at a web address.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..');
const SKIP = new Set(['node_modules', 'dist', '.git', 'manifest/build', 'bench/results', 'test-output']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (SKIP.has(relative(ROOT, path).split(sep).join('/'))) return [];
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped (hyphens kept), spaces → hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => slug(m[1])));
}

const pages = markdownFiles(ROOT);

describe('links of the repository’s Markdown pages stay inside it', () => {
  it('finds the pages', () => {
    expect(pages.map((p) => relative(ROOT, p))).toEqual(expect.arrayContaining(['README.md', join('docs', 'SPEC.md')]));
  });

  it.each(pages.map((p) => [relative(ROOT, p), p]))('%s', (_name, page) => {
    const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
    const problems: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^(https?|mailto):/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(page), decodeURI(path)) : page;
      if (!file.startsWith(ROOT + sep)) problems.push(`${target}: outside the repository`);
      else if (!existsSync(file)) problems.push(`${target}: no such file`);
      else if (anchor && file.endsWith('.md') && !anchorsOf(file).has(anchor)) problems.push(`${target}: no such heading`);
    }
    expect(problems).toEqual([]);
  });
});
