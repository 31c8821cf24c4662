import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLayout, importsOf, ROOMS, wrongWay } from '../scripts/layout.ts';

const src = resolve(import.meta.dirname, '../src');

describe('layout: imports run one way', () => {
  it('no file under src/ imports a layer or service room above its own', () => {
    expect(checkLayout(src)).toEqual([]);
  });

  it('catches a lower room importing a higher one, and the lower layers importing the upper ones', () => {
    expect(wrongWay('services/ledger/ledger.ts', 'services/marketplace/jobs.ts')).toMatch(/room above/);
    expect(wrongWay('services/kernel/idempotency.ts', 'services/accounts/api-keys.ts')).toMatch(/room above/);
    expect(wrongWay('services/delivery/outbox.ts', 'schema/builder.ts')).toMatch(/services may not import faces/);
    expect(wrongWay('config.ts', 'services/delivery/ssrf.ts')).toMatch(/foundation may not import services/);
    expect(wrongWay('schema/job.ts', 'server.ts')).toMatch(/may not import the app/);
    expect(wrongWay('services/newroom/x.ts', 'db/client.ts')).toMatch(/not a service room/);
    // The right way round is fine.
    expect(wrongWay('services/settlement/reviews.ts', 'services/ledger/ledger.ts')).toBeNull();
    expect(wrongWay('schema/job.ts', 'services/marketplace/jobs.ts')).toBeNull();
    expect(wrongWay('server.ts', 'schema/index.ts')).toBeNull();
  });

  it('reads static, type-only, re-export and dynamic imports', () => {
    const text = `import { a } from './a.ts';\nimport type { B } from '../b.ts';\nexport { c } from './c.ts';\nconst d = await import('./d.ts');\nimport x from 'zod';`;
    expect(importsOf(text)).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts']);
  });

  it('every service room says what it owns and what it may import', () => {
    for (const room of ROOMS) {
      const readme = join(src, 'services', room, 'README.md');
      expect(existsSync(readme), readme).toBe(true);
      expect(readFileSync(readme, 'utf8')).toMatch(/May import/);
    }
  });
});
