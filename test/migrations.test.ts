import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMigrations, MIGRATIONS_DIR, runMigrations } from '../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from './support/app.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe('migrations', () => {
  it('are recorded in Prisma’s _prisma_migrations, and running them again is a no-op', async () => {
    const session = await db.database.session();
    try {
      const again = await runMigrations(session);
      expect(again.applied).toEqual([]);
      expect(again.alreadyApplied).toBe(listMigrations().length);
      const rows = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(listMigrations().map((m) => m.name));
      expect(rows.every((r) => r.finished_at !== null && /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    } finally {
      await session.close();
    }
  });

  it('refuse to run when an applied migration file was edited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aw-migrations-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const first = listMigrations(dir)[0]!;
    writeFileSync(join(dir, first.name, 'migration.sql'), `${first.sql}\n-- edited\n`);
    const session = await db.database.session();
    try {
      await expect(runMigrations(session, { dir })).rejects.toThrow(/was changed after it was applied/);
    } finally {
      await session.close();
    }
  });

  it('enforce the ledger invariants in the database itself', async () => {
    const prisma = db.database.prisma;
    await expect(
      prisma.$executeRawUnsafe(`UPDATE "LedgerAccount" SET balance = -1 WHERE key = 'fees'`),
    ).rejects.toThrow(/LedgerAccount_balance_nonnegative/);
    // The external account is where credits are minted: it alone may go negative.
    await prisma.$executeRawUnsafe(`UPDATE "LedgerAccount" SET balance = -5 WHERE key = 'external'`);
    await prisma.$executeRawUnsafe(`UPDATE "LedgerAccount" SET balance = 0 WHERE key = 'external'`);
  });
});
