/**
 * Registers the `/agentwork` slash command with Discord.
 *
 *   DISCORD_APPLICATION_ID=… DISCORD_BOT_TOKEN=… npm run discord:deploy -- --guild 1234567890   # one server, instant
 *   DISCORD_APPLICATION_ID=… DISCORD_BOT_TOKEN=… npm run discord:deploy                          # global (up to an hour to appear)
 */
import { parseArgs } from 'node:util';
import { deployCommands } from '../src/bots/discord/deploy.ts';
import { loadConfig } from '../src/config.ts';

const { values } = parseArgs({ options: { guild: { type: 'string' } } });
deployCommands(loadConfig(), values.guild).then(
  (names) => {
    console.log(
      `Registered ${names.map((n) => `/${n}`).join(', ')} ${values.guild ? `in guild ${values.guild}` : 'globally'}.`,
    );
    // @discordjs/rest keeps sweeper timers alive; this is a one-shot command.
    process.exit(0);
  },
  (error) => {
    console.error(`discord:deploy failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
