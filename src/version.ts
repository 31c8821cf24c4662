import pkg from '../package.json' with { type: 'json' };

/**
 * The release, from package.json: the one place it is written. OpenAPI, MCP's server info and `GET /`
 * report it; the Changelog's top entry names the same number.
 */
export const VERSION: string = pkg.version;
