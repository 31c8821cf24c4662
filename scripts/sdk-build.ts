/**
 * `npm run sdk:build` / `npm run sdk:pack`: the agent SDK (src/sdk) as the installable package `agentwork`
 * in sdk/ (README "Agent SDK"). The package directory holds its package.json, tsconfig.json and README; the
 * build writes sdk/dist (ES modules + .d.ts) and `--pack` writes sdk/agentwork-<version>.tgz.
 *
 * What the build guarantees, failing with a message otherwise:
 * - the package's version is the app's (src/version.ts, from the root package.json): written when it differs;
 * - every dependency the package declares is pinned to the version the root lockfile installs;
 * - the SDK imports nothing of the server's code: tsc's rootDir is src/sdk (an import outside it is TS6059),
 *   and every import in dist is either a file in dist, a node: builtin or a declared dependency.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';
import { VERSION } from '../src/version.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const SDK_DIR = join(ROOT, 'sdk');
const DIST = join(SDK_DIR, 'dist');

const HELP = `Builds the agent SDK package (sdk/, npm name "agentwork") from src/sdk.

Usage: npm run sdk:build [-- --pack]
       npm run sdk:pack           same as sdk:build -- --pack

Options:
  --pack     also run \`npm pack\` in sdk/: writes sdk/agentwork-<version>.tgz
  -h, --help this text`;

export class SdkBuildError extends Error {
  override name = 'SdkBuildError';
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The package name of a bare import specifier (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Dependencies of sdk/package.json whose version is not the one the root lockfile installs. */
export function dependencyDrift(): string[] {
  const sdk = readJson<PackageJson>(join(SDK_DIR, 'package.json'));
  const lock = readJson<{ packages: Record<string, { version?: string }> }>(join(ROOT, 'package-lock.json'));
  const drift: string[] = [];
  for (const [name, version] of Object.entries(sdk.dependencies ?? {})) {
    const locked = lock.packages[`node_modules/${name}`]?.version;
    if (locked !== version)
      drift.push(`${name}: sdk/package.json says ${version}, the root lockfile ${locked ?? 'has none'}`);
  }
  return drift;
}

/** The module specifiers a file imports (static, dynamic and `import("…")` types; comments ignored). */
function importsOf(text: string): { specifier: string; pos: number }[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map((f) => ({ specifier: f.fileName, pos: f.pos }));
}

/** Imports in dist that are neither a file in dist, a node: builtin nor a declared dependency. */
export function undeclaredImports(dist = DIST): string[] {
  const sdk = readJson<PackageJson>(join(SDK_DIR, 'package.json'));
  const declared = new Set(Object.keys(sdk.dependencies ?? {}));
  const builtins = new Set(builtinModules);
  const wrong: string[] = [];
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!/\.(js|d\.ts)$/.test(file)) continue;
    const text = readFileSync(join(dist, file), 'utf8');
    for (const { specifier } of importsOf(text)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(join(dist, file)), specifier);
        const candidates = file.endsWith('.d.ts') ? [target.replace(/\.js$/, '.d.ts')] : [target];
        if (!relative(dist, target).startsWith('..') && candidates.some(existsSync)) continue;
        wrong.push(`${file} imports ${specifier}: not a file of the package`);
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier) && !declared.has(packageOf(specifier))) {
        wrong.push(`${file} imports ${specifier}: not a dependency in sdk/package.json`);
      }
    }
  }
  return wrong;
}

/** Builds sdk/dist; returns the package's version. */
export function buildSdk(log: (line: string) => void = console.log): string {
  const pkgPath = join(SDK_DIR, 'package.json');
  const pkg = readJson<PackageJson>(pkgPath);
  if (pkg.version !== VERSION) {
    // The release is written once, in the root package.json; the SDK follows it.
    writeFileSync(
      pkgPath,
      readFileSync(pkgPath, 'utf8').replace(`"version": "${pkg.version}"`, `"version": "${VERSION}"`),
    );
    if (readJson<PackageJson>(pkgPath).version !== VERSION) {
      throw new SdkBuildError(`could not set the version in ${pkgPath}`);
    }
    log(`sdk/package.json version ${pkg.version} → ${VERSION} (the app's version): commit it`);
  }
  const drift = dependencyDrift();
  if (drift.length) {
    throw new SdkBuildError(
      `the SDK's dependencies must be pinned to the root lockfile's versions:\n  ${drift.join('\n  ')}`,
    );
  }

  rmSync(DIST, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(SDK_DIR, 'tsconfig.json')], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new SdkBuildError('tsc failed (an import outside src/sdk shows as TS6059 "not under rootDir")');
  }
  // tsc rewrites `./x.ts` to `./x.js` in the JavaScript (rewriteRelativeImportExtensions) but not in the
  // declarations; consumers' TypeScript resolves `./x.js` to `x.d.ts`.
  for (const file of readdirSync(DIST, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.d.ts')) continue;
    const path = join(DIST, file);
    let text = readFileSync(path, 'utf8');
    for (const { specifier, pos } of importsOf(text).reverse()) {
      if (!specifier.startsWith('.') || !specifier.endsWith('.ts')) continue;
      const at = text.indexOf(specifier, pos); // pos is where the string literal starts (its quote)
      text = `${text.slice(0, at)}${specifier.slice(0, -3)}.js${text.slice(at + specifier.length)}`;
    }
    writeFileSync(path, text);
  }
  const wrong = undeclaredImports();
  if (wrong.length) throw new SdkBuildError(`the SDK imports what its package does not ship:\n  ${wrong.join('\n  ')}`);
  log(`built sdk/dist (agentwork ${VERSION})`);
  return VERSION;
}

/** `npm pack` in sdk/; returns the tarball's path. */
export function packSdk(destination = SDK_DIR): string {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: SDK_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [packed] = JSON.parse(out) as { filename: string }[];
  if (!packed) throw new SdkBuildError(`npm pack printed no tarball: ${out}`);
  return join(destination, packed.filename);
}

function main(argv: string[]) {
  let values: { pack?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { pack: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  try {
    buildSdk();
    if (values.pack) console.log(`packed ${relative(process.cwd(), packSdk())}`);
    return 0;
  } catch (error) {
    if (!(error instanceof SdkBuildError)) throw error;
    console.error(`sdk build failed: ${error.message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = main(process.argv.slice(2));
}
