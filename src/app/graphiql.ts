import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL served entirely by this process, so it works offline and behind firewalls: yoga's
 * default page loads React, Monaco and its workers from unpkg (blank without the internet) and
 * leaves "Loading __TITLE__..." in the page. The assets come from `@graphql-yoga/render-graphiql`
 * (the same GraphiQL build, bundled) and are served under GRAPHIQL_ASSET_PREFIX; the page itself
 * is a few hundred bytes with no inline script (CSP `script-src 'self'` is enough).
 */

export const GRAPHIQL_TITLE = 'Agentwork GraphQL';

/** The version of the bundled GraphiQL, in every asset URL so browsers may cache them for good. */
const GRAPHIQL_VERSION: string = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json').version;

export const GRAPHIQL_ASSET_PREFIX = `/graphiql/${GRAPHIQL_VERSION}/`;

/** What the page opens with: a query that works without a key, and the header a key goes in. */
export const GRAPHIQL_DEFAULT_QUERY = `# Welcome to Agentwork.
# Put your key in the Headers tab below:
#   { "Authorization": "Bearer aw_live_..." }
# No key yet? Run createWorkspace (see Docs) or
#   npm run cli -- workspace create --name Acme \\
#     --owner-email you@example.com
# Without one the answer is "Authentication required".
# Ctrl+Enter runs the query.

query Start {
  viewer {
    __typename
    id
    name
  }
  jobs(first: 5) {
    edges {
      node {
        id
        title
        status
        budget
      }
    }
  }
}
`;

export function graphiqlOptions(): GraphiQLOptions {
  return {
    title: GRAPHIQL_TITLE,
    defaultQuery: GRAPHIQL_DEFAULT_QUERY,
    // The header a key goes in, left empty: a placeholder key would be sent as it is and answered
    // 401, schema request included, leaving GraphiQL without docs. Empty means anonymous.
    headers: JSON.stringify({ Authorization: '' }, null, 2),
    defaultEditorToolsVisibility: 'headers',
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** yoga's `renderGraphiQL`: the page, pointing only at our own asset URLs. */
export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  const title = escapeHtml(options.title ?? GRAPHIQL_TITLE);
  const asset = (name: string) => `${GRAPHIQL_ASSET_PREFIX}${name}`;
  // JSON inside <script type="application/json">: `<` escaped so no value can close the element.
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="icon" href="${asset('favicon.ico')}" />
    <link rel="stylesheet" href="${asset('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript. The API itself answers POST /graphql.</noscript>
    <div id="root">Loading ${title}...</div>
    <script type="application/json" id="graphiql-options">${json}</script>
    <script src="${asset('graphiql.js')}"></script>
    <script src="${asset('start.js')}"></script>
  </body>
</html>
`;
}

/** Wires Monaco's workers to our URLs and renders GraphiQL with the options embedded in the page. */
const START_JS = `(function () {
  var prefix = ${JSON.stringify(GRAPHIQL_ASSET_PREFIX)};
  var workers = {
    editorWorkerService: prefix + 'editor.worker.js',
    json: prefix + 'json.worker.js',
    graphql: prefix + 'graphql.worker.js',
  };
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) {
      return workers[label];
    },
  };
  var options = JSON.parse(document.getElementById('graphiql-options').textContent || '{}');
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
})();
`;

type Asset = { type: string; body: string | Buffer };

let assets: Promise<Record<string, Asset>> | undefined;

/** The bundle is ~9 MB of strings: loaded on the first asset request, not at start. */
function loadAssets(): Promise<Record<string, Asset>> {
  assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((b) => {
    const js = 'text/javascript; charset=utf-8';
    const favicon = /^data:[^;]+;base64,(.*)$/.exec(b.favicon);
    return {
      'graphiql.js': { type: js, body: b.js },
      'graphiql.css': { type: 'text/css; charset=utf-8', body: b.css },
      'editor.worker.js': { type: js, body: b.editorWorkerService },
      'json.worker.js': { type: js, body: b.jsonWorker },
      'graphql.worker.js': { type: js, body: b.graphqlWorker },
      'favicon.ico': { type: 'image/x-icon', body: Buffer.from(favicon?.[1] ?? '', 'base64') },
      'start.js': { type: js, body: START_JS },
    };
  });
  return assets;
}

/** The HTTP route for the assets (GET/HEAD `${GRAPHIQL_ASSET_PREFIX}<name>`). */
export const graphiqlAssetPath = new RegExp(`^${GRAPHIQL_ASSET_PREFIX.replace(/\./g, '\\.')}([a-z.]+)$`);

export async function serveGraphiqlAsset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  const asset = (await loadAssets())[name];
  if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not found');
    return;
  }
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': Buffer.byteLength(asset.body),
    // The version is in the URL: a new GraphiQL gets new URLs.
    'cache-control': 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
