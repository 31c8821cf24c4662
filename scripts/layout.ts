/**
 * The direction of imports (README "Development"): each part of src/ may import only what lies
 * below it, and inside src/services each room only rooms below it. `npm run check:layout` prints
 * every import that runs the wrong way and exits 1; test/layout.test.ts runs the same check.
 *
 *   app        src/app, server.ts, main.ts, cli.ts      may import anything
 *   faces      schema, bots, rest, mcp, live, sdk,      foundation, services, other faces
 *              hardening.ts
 *   services   src/services/<room>                      foundation, rooms below (ROOMS order)
 *   foundation db, generated, config, log, allow-list,   foundation only
 *              request-context, version
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Service rooms, bottom to top: a room may import itself and the rooms before it. */
export const ROOMS = [
  'kernel',
  'accounts',
  'access',
  'reputation',
  'delivery',
  'ledger',
  'marketplace',
  'execution',
  'chat',
  'settlement',
] as const;

const FOUNDATION = ['db', 'generated', 'config.ts', 'log.ts', 'allow-list.ts', 'request-context.ts', 'version.ts'];
const FACES = ['schema', 'bots', 'rest', 'mcp', 'live', 'sdk', 'hardening.ts'];
const APP = ['app', 'server.ts', 'main.ts', 'cli.ts'];

type Part = { layer: 0 | 1 | 2 | 3; room?: number; name: string };

/** Where a file under src/ sits (path relative to src/, with forward slashes). */
export function partOf(path: string): Part | null {
  const [top, second] = path.split('/');
  if (!top) return null;
  if (FOUNDATION.includes(top)) return { layer: 0, name: top };
  if (top === 'services') {
    const room = ROOMS.indexOf(second as (typeof ROOMS)[number]);
    return { layer: 1, room: room === -1 ? undefined : room, name: room === -1 ? `services/${second}` : second! };
  }
  if (FACES.includes(top)) return { layer: 2, name: top };
  if (APP.includes(top)) return { layer: 3, name: top };
  return null;
}

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

/** Why `from` may not import `to` (both relative to src/), or null when it may. */
export function wrongWay(from: string, to: string): string | null {
  const a = partOf(from);
  const b = partOf(to);
  if (!a) return `${from} is in no layer: add its folder to scripts/layout.ts`;
  if (!b) return `${to} is in no layer: add its folder to scripts/layout.ts`;
  if (a.layer === 1 && a.room === undefined) return `${a.name} is not a service room (ROOMS in scripts/layout.ts)`;
  if (b.layer > a.layer) {
    const names = ['foundation', 'services', 'faces (schema, bots, rest, mcp, live, sdk)', 'the app'];
    return `${names[a.layer]} may not import ${names[b.layer]}`;
  }
  if (a.layer === 1 && b.layer === 1 && b.room! > a.room!) {
    return `services/${a.name} may not import services/${b.name}, a room above it`;
  }
  return null;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The relative imports of one source text. */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (spec?.startsWith('.')) out.push(spec);
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : walk(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Every import under `srcDir` that runs the wrong way. */
export function checkLayout(srcDir: string): Violation[] {
  const violations: Violation[] = [];
  for (const file of walk(srcDir)) {
    const from = relative(srcDir, file).split('\\').join('/');
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = relative(srcDir, resolve(dirname(file), spec))
        .split('\\')
        .join('/');
      if (to.startsWith('..')) continue;
      const why = wrongWay(from, to);
      if (why) violations.push({ file: from, imports: to, why });
    }
  }
  return violations;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const violations = checkLayout(resolve(import.meta.dirname, '../src'));
  for (const v of violations) console.error(`src/${v.file} imports src/${v.imports}: ${v.why}`);
  if (violations.length > 0) {
    console.error(`layout: ${violations.length} import(s) run the wrong way (see README "Development")`);
    process.exit(1);
  }
  console.log('layout: every import runs one way');
}
