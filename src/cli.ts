import { parseArgs } from 'node:util';
import { createWorkspaceCurl, localUrl } from './app/first-key.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/client.ts';
import { DataDirLockedError } from './db/data-dir-lock.ts';
import { runMigrations } from './db/migrate.ts';
import { createWorkspace } from './services/accounts/workspaces.ts';
import { DomainError, ValidationError } from './services/kernel/errors.ts';
import { encodeId } from './services/kernel/ids.ts';

const HELP = `Agentwork CLI

Usage: npm run cli -- <command> [options]

Commands:
  workspace create --name <name> --owner-email <email> [--owner-name <name>] [--json]
      Create a workspace and its OWNER; prints the owner's API key (shown once).
  db migrate
      Apply pending migrations (the server also does this on start).

Uses DATABASE_URL when set, else the embedded database in DATA_DIR (default .data). The embedded
database allows one process at a time: while \`npm start\` runs on it, use the server's API instead
(the CLI says how).`;

async function main(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      'owner-email': { type: 'string' },
      'owner-name': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals.join(' ');
  if (values.help || !command) {
    console.log(HELP);
    return 0;
  }
  const config = loadConfig(process.env, { LOG_LEVEL: 'silent' });
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 });
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    console.error(error.message);
    console.error(insteadOfCli(command, values, config));
    return 1;
  }
  try {
    const session = await db.session();
    try {
      const result = await runMigrations(session, {
        onApply: (name) => {
          if (!values.json) console.error(`applying migration ${name}`);
        },
      });
      if (command === 'db migrate') {
        console.log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied`);
        return 0;
      }
    } finally {
      await session.close();
    }
    if (command === 'workspace create') {
      const ownerEmail = values['owner-email'] ?? '';
      const created = await createWorkspace(
        db.prisma,
        { kind: 'platform' },
        { name: values.name ?? '', ownerEmail, ownerName: values['owner-name'] ?? ownerEmail.split('@')[0] ?? 'Owner' },
        { allowSignup: true },
      );
      const out = {
        workspaceId: encodeId('Workspace', created.workspace.id),
        ownerId: encodeId('Member', created.owner.id),
        apiKey: created.apiKey,
      };
      if (values.json) console.log(JSON.stringify(out));
      else {
        console.log(`Workspace ${created.workspace.name} created (${out.workspaceId}).`);
        console.log(`Owner API key (shown once, store it now): ${out.apiKey}`);
      }
      return 0;
    }
    console.error(`Unknown command "${command}".\n\n${HELP}`);
    return 2;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof ValidationError) {
      for (const issue of error.issues) console.error(`--${cliFlag(issue.path)}: ${issue.message}`);
    } else if (error instanceof ConfigError || error instanceof DomainError) {
      console.error(error.message);
    } else {
      console.error(error instanceof Error ? error.message : String(error));
    }
    process.exit(1);
  },
);

/** What to do while the server holds the embedded database: the same thing through its API. */
function insteadOfCli(command: string, values: Record<string, string | boolean | undefined>, config: Config): string {
  if (command !== 'workspace create') {
    return 'The server applies pending migrations itself on start; stop it to run this command.';
  }
  const ownerEmail = String(values['owner-email'] ?? 'you@example.com');
  const input = {
    name: String(values.name ?? 'Acme'),
    ownerName: String(values['owner-name'] ?? ownerEmail.split('@')[0] ?? 'Owner'),
    ownerEmail,
  };
  const curl = createWorkspaceCurl(localUrl(config.HOST, config.PORT), input, { allowSignup: config.ALLOW_SIGNUP });
  return `While the server runs, create the workspace through its API (the createWorkspace mutation):\n  ${curl}`;
}

function cliFlag(path: string[]): string {
  const field = path[path.length - 1] ?? '';
  return { name: 'name', ownerEmail: 'owner-email', ownerName: 'owner-name' }[field] ?? field;
}
