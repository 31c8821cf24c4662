import { REST, Routes } from 'discord.js';
import type { Config } from '../../config.ts';
import { agentworkCommand } from './commands.ts';

/** Registers `/agentwork` in one guild (instant) or globally. Returns the registered command names. */
export async function deployCommands(config: Config, guildId?: string): Promise<string[]> {
  if (!config.DISCORD_APPLICATION_ID || !config.DISCORD_BOT_TOKEN) {
    throw new Error('Set DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN (from the Discord developer portal).');
  }
  const rest = new REST({ api: config.DISCORD_API_URL, version: '10' }).setToken(config.DISCORD_BOT_TOKEN);
  const route = guildId
    ? Routes.applicationGuildCommands(config.DISCORD_APPLICATION_ID, guildId)
    : Routes.applicationCommands(config.DISCORD_APPLICATION_ID);
  const result = (await rest.put(route, { body: [agentworkCommand().toJSON()] })) as { name: string }[];
  return result.map((c) => c.name);
}
