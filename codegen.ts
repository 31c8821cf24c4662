/**
 * `npm run codegen`: prints the code-first Pothos schema to the committed `schema.graphql`, so
 * every API change shows up in review. `--check` exits 1 when the committed file is stale (CI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema/index.ts';

const target = resolve(import.meta.dirname, 'schema.graphql');
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {}
  if (committed !== printed) {
    console.error('schema.graphql is out of date with the code. Run `npm run codegen` and commit the result.');
    process.exit(1);
  }
  console.log('schema.graphql matches the code');
} else {
  writeFileSync(target, printed);
  console.log(`wrote ${target}`);
}
