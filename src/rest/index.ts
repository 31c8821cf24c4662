/**
 * The REST mirror of the agent-facing API under `/api`, for frameworks that prefer plain HTTP: SOFA
 * (@graphql-yoga/plugin-sofa) turns the same schema's operations into routes and an OpenAPI document
 * (`GET /api/openapi.json`), executing them through yoga with the same auth, visibility and errors.
 * Plus the RFC's `POST /api/agents/register` (a flat body, framework in any case) as an explicit route.
 *
 * What a REST client expects and SOFA alone does not give: flat bodies (`{ jobId, message }`, the
 * `{ input: … }` wrapper of the GraphQL argument being optional), one error shape for every failure
 * (GraphQL's `{ errors: [{ message, extensions: { code } }] }` with a 4xx status), and an operationId on
 * every operation of the OpenAPI document (the GraphQL field name).
 */

import { createRequire } from 'node:module';
import { useSofa } from '@graphql-yoga/plugin-sofa';
import type {
  GraphQLFieldConfigMap,
  GraphQLInterfaceType as GraphQLInterfaceTypeT,
  GraphQLNamedType,
  GraphQLObjectType as GraphQLObjectTypeT,
  GraphQLOutputType,
  GraphQLSchema as GraphQLSchemaT,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import { errorCodeOf } from '../schema/errors-mask.ts';
import { VERSION } from '../version.ts';

// The schema's own copy of graphql-js (CommonJS, as Pothos loads it): test runners that resolve `graphql` to its
// ESM build would otherwise hand us a second realm, and graphql-js refuses to mix types across realms.
const {
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  GraphQLUnionType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
}: typeof import('graphql') = createRequire(import.meta.url)('graphql');

export const REST_BASE = '/api';

/** Operations an agent uses, mirrored as REST routes. Everything else stays GraphQL-only. */
const AGENT_QUERIES = ['viewer', 'jobs', 'job', 'recommendedJobs', 'wallet', 'agent', 'agents', 'offers', 'inbox'];
const AGENT_MUTATIONS = [
  'placeBid',
  'withdrawBid',
  'startExecution',
  'reportProgress',
  'recordToolCall',
  'requestInput',
  'submitResult',
  'failExecution',
  'setAgentStatus',
  'updateAgent',
  'openDispute',
  'acceptOffer',
  'declineOffer',
  'acceptCounter',
  'sendMessage',
  'releaseJob',
];

/** RESTful paths (SOFA's defaults would be `/place-bid`, `/report-progress`, ...). */
const ROUTES: Record<string, { method: 'GET' | 'POST' | 'PATCH' | 'PUT'; path: string; tags: string[] }> = {
  'Query.viewer': { method: 'GET', path: '/viewer', tags: ['agents'] },
  'Query.agent': { method: 'GET', path: '/agents/:id', tags: ['agents'] },
  'Query.agents': { method: 'GET', path: '/agents', tags: ['agents'] },
  'Query.jobs': { method: 'GET', path: '/jobs', tags: ['jobs'] },
  'Query.job': { method: 'GET', path: '/jobs/:id', tags: ['jobs'] },
  'Query.recommendedJobs': { method: 'GET', path: '/recommended-jobs', tags: ['jobs'] },
  'Query.wallet': { method: 'GET', path: '/wallet', tags: ['wallet'] },
  'Query.offers': { method: 'GET', path: '/offers', tags: ['offers'] },
  'Query.inbox': { method: 'GET', path: '/inbox', tags: ['agents'] },
  'Mutation.setAgentStatus': { method: 'PUT', path: '/agent/status', tags: ['agents'] },
  'Mutation.updateAgent': { method: 'PATCH', path: '/agent', tags: ['agents'] },
  'Mutation.placeBid': { method: 'POST', path: '/bids', tags: ['bids'] },
  'Mutation.withdrawBid': { method: 'POST', path: '/bids/:id/withdraw', tags: ['bids'] },
  'Mutation.startExecution': { method: 'POST', path: '/jobs/:jobId/start', tags: ['executions'] },
  'Mutation.openDispute': { method: 'POST', path: '/jobs/:jobId/disputes', tags: ['jobs'] },
  'Mutation.releaseJob': { method: 'POST', path: '/jobs/:jobId/release', tags: ['jobs'] },
  'Mutation.acceptOffer': { method: 'POST', path: '/offers/:offerId/accept', tags: ['offers'] },
  'Mutation.declineOffer': { method: 'POST', path: '/offers/:offerId/decline', tags: ['offers'] },
  'Mutation.acceptCounter': { method: 'POST', path: '/bids/:bidId/accept-counter', tags: ['bids'] },
  'Mutation.sendMessage': { method: 'POST', path: '/messages', tags: ['messages'] },
  'Mutation.reportProgress': { method: 'POST', path: '/executions/:executionId/progress', tags: ['executions'] },
  'Mutation.recordToolCall': { method: 'POST', path: '/executions/:executionId/tool-calls', tags: ['executions'] },
  'Mutation.requestInput': { method: 'POST', path: '/executions/:executionId/input-requests', tags: ['executions'] },
  'Mutation.submitResult': { method: 'POST', path: '/executions/:executionId/result', tags: ['executions'] },
  'Mutation.failExecution': { method: 'POST', path: '/executions/:executionId/fail', tags: ['executions'] },
};

/** HTTP status for the error members of `<Mutation>Result` unions (the GraphQL API answers them with 200). */
const ERROR_STATUS: Record<string, number> = {
  ValidationError: 400,
  ForbiddenError: 403,
  NotEligibleError: 403,
  NotFoundError: 404,
  InvalidStateError: 409,
  ConflictError: 409,
  InsufficientCreditsError: 402,
};

/** HTTP status for GraphQL error codes raised by queries (and auth). */
const CODE_STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
};

/**
 * Fields left out of REST answers. SOFA selects every field of every nested type (stopping only at cycles), so
 * nested lists that take arguments (connections) and back-references are cut here to keep each route's
 * query and OpenAPI schema small. Query them over GraphQL when needed.
 */
const OMITTED_FIELDS = new Set([
  'Agent.workspace',
  'Project.workspace',
  'Workspace.members',
  'Member.apiKeys',
  'Member.workspace',
  'Bid.job',
  'Bid.relevantExperience',
  'Execution.job',
  'Execution.agent',
  'Review.job',
  'Review.reviewer',
  'Dispute.job',
  'LedgerEntry.job',
  'Job.excludedAgents',
  'Job.preferredAgents',
  'Job.acceptedBid',
  'Message.job',
  'Offer.agent',
]);

/**
 * SOFA aliases a payload field that clashes with the error members' `message: String!` (SendMessagePayload's
 * `message: Message!` becomes `messageMessageNonNull`); REST answers use the field's own name, as the OpenAPI
 * document does.
 */
const SOFA_ALIASES: Record<string, string> = { messageMessageNonNull: 'message' };

/**
 * A view of the schema for SOFA: the same resolvers and type names, only the agent-facing root fields (no
 * subscriptions), and nested types without argument-taking fields and the back-references above.
 */
export function agentFacingSchema(schema: GraphQLSchemaT): GraphQLSchemaT {
  const roots = new Map<GraphQLNamedType | null | undefined, string[]>([
    [schema.getQueryType(), AGENT_QUERIES],
    [schema.getMutationType(), AGENT_MUTATIONS],
  ]);
  const skipped = new Set<GraphQLNamedType | null | undefined>([schema.getSubscriptionType()]);
  const rebuilt = new Map<string, GraphQLNamedType>();

  const named = (type: GraphQLNamedType): GraphQLNamedType => rebuilt.get(type.name) ?? type;
  const wrap = <T extends GraphQLOutputType>(type: T): T => {
    if (isNonNullType(type)) return new GraphQLNonNull(wrap(type.ofType)) as T;
    if (isListType(type)) return new GraphQLList(wrap(type.ofType)) as unknown as T;
    return named(type as GraphQLNamedType) as T;
  };
  const fieldsOf = (type: GraphQLObjectTypeT | GraphQLInterfaceTypeT) => () => {
    const rootFields = roots.get(type);
    const out: GraphQLFieldConfigMap<unknown, unknown> = {};
    for (const [name, field] of Object.entries(type.toConfig().fields)) {
      if (rootFields ? !rootFields.includes(name) : field.args && Object.keys(field.args).length > 0) continue;
      if (OMITTED_FIELDS.has(`${type.name}.${name}`)) continue;
      out[name] = { ...field, type: wrap(field.type) };
    }
    // REST bodies carry no __typename: name the error type (and the route's status follows from it).
    if (isObjectType(type) && type.getInterfaces().some((i) => i.name === 'Error')) {
      out.error = {
        type: new GraphQLNonNull(GraphQLString),
        description: 'The error type, e.g. ValidationError (REST only; GraphQL has __typename).',
        resolve: () => type.name,
      };
    }
    return out;
  };

  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || skipped.has(type)) continue;
    if (isObjectType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLObjectType({
          ...config,
          fields: fieldsOf(type),
          interfaces: () => config.interfaces.map((i) => named(i) as GraphQLInterfaceTypeT),
        }),
      );
    } else if (isInterfaceType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLInterfaceType({
          ...config,
          fields: fieldsOf(type),
          interfaces: () => config.interfaces.map((i) => named(i) as GraphQLInterfaceTypeT),
        }),
      );
    } else if (isUnionType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLUnionType({ ...config, types: () => config.types.map((t) => named(t) as GraphQLObjectTypeT) }),
      );
    }
  }
  const root = (type: GraphQLObjectTypeT | null | undefined) =>
    type ? (rebuilt.get(type.name) as GraphQLObjectTypeT) : undefined;
  return new GraphQLSchema({
    ...schema.toConfig(),
    query: root(schema.getQueryType()),
    mutation: root(schema.getMutationType()),
    subscription: undefined,
    types: [...rebuilt.values()].filter((t) => !roots.has(schema.getType(t.name))),
  });
}

type SofaOptions = Parameters<typeof useSofa>[0];
/** The part of yoga's server the register route uses: its request pipeline (auth, masking, ...). */
type YogaHandle = { handle(request: Request, serverContext: Record<string, unknown>): Promise<Response> | Response };

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });

/** The one error body of the mirror, as GraphQL answers errors: `{ errors: [{ message, extensions: { code, … } }] }`. */
const errorBody = (code: string, message: string, extensions: Record<string, unknown> = {}) => ({
  errors: [{ message, extensions: { code, ...extensions } }],
});

/** A typed error of a result union (`{ error: "ValidationError", message, issues }`) in the one shape. */
function typedErrorBody(result: Record<string, unknown> & { message?: unknown }, type: string) {
  const { message, error: _error, __typename: _typename, ...fields } = result;
  return errorBody(errorCodeOf(type), typeof message === 'string' ? message : type, { type, ...fields });
}

/** The RFC's registration body: `{ framework: "eliza", name, skills, webhookUrl }` (flat; framework any case). */
const registerBody = z.object({
  name: z.string({ error: 'is required' }),
  framework: z
    .string()
    .transform((v) => v.trim().toUpperCase())
    .pipe(z.enum(['MASTRA', 'ELIZA', 'AUTOGPT', 'CREWAI', 'LANGGRAPH', 'CUSTOM'], { error: 'unknown framework' }))
    .optional(),
  description: z.string().optional(),
  skills: z.array(z.string()).optional(),
  tools: z.array(z.string()).optional(),
  languages: z.array(z.string()).optional(),
  webhookUrl: z.string().optional(),
  apiEndpoint: z.string().optional(),
  creditRate: z.number().int().optional(),
  maxConcurrentJobs: z.number().int().optional(),
  averageResponseTime: z.number().int().optional(),
});

const REGISTER_AGENT = `mutation RestRegisterAgent($input: RegisterAgentInput!) {
  registerAgent(input: $input) {
    __typename
    ... on RegisterAgentPayload { apiKey agent { id name description framework skills tools languages status creditRate maxConcurrentJobs webhookUrl apiEndpoint createdAt } }
    ... on Error { message }
    ... on ValidationError { issues { path message } }
  }
}`;

type GraphQLErrorBody = { message: string; extensions?: { code?: string } };

async function registerAgentRoute(
  yoga: YogaHandle,
  request: Request,
  serverContext: Record<string, unknown>,
): Promise<Response> {
  let raw: unknown;
  try {
    raw = await request.json();
  } catch {
    return json(
      400,
      errorBody('BAD_USER_INPUT', 'The body must be a JSON object.', { type: 'ValidationError', issues: [] }),
    );
  }
  const parsed = registerBody.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
    return json(400, errorBody('BAD_USER_INPUT', 'The input is invalid.', { type: 'ValidationError', issues }));
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const authorization = request.headers.get('authorization');
  if (authorization) headers.authorization = authorization;
  const response = await yoga.handle(
    new Request(new URL('/graphql', request.url), {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: REGISTER_AGENT, variables: { input: parsed.data } }),
    }),
    serverContext,
  );
  const body = (await response.json()) as {
    data?: { registerAgent?: Record<string, unknown> & { __typename: string } } | null;
    errors?: GraphQLErrorBody[];
  };
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    const status = response.status >= 400 ? response.status : (CODE_STATUS[code] ?? 500);
    return json(status, errorBody(code, error.message), status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  }
  const result = body.data?.registerAgent;
  if (!result) return json(500, errorBody('INTERNAL_SERVER_ERROR', 'Unexpected error.'));
  if (result.__typename === 'RegisterAgentPayload') {
    const agent = result.agent as { id: string };
    return json(201, { agentId: agent.id, apiKey: result.apiKey, agent });
  }
  const { __typename, ...rest } = result;
  // Service paths start at the GraphQL argument (`input.skills.1`); this body has no `input` wrapper.
  const issues = (rest.issues as { path: string[]; message: string }[] | undefined)?.map((issue) => ({
    ...issue,
    path: issue.path[0] === 'input' ? issue.path.slice(1) : issue.path,
  }));
  return json(ERROR_STATUS[__typename] ?? 400, typedErrorBody({ ...rest, ...(issues ? { issues } : {}) }, __typename));
}

/** The one error body, as an OpenAPI schema (`components.schemas.Errors`). */
const ERRORS_SCHEMA = {
  type: 'object',
  required: ['errors'],
  description:
    'Every failure of the mirror, like a GraphQL error: `extensions.code` (BAD_USER_INPUT, UNAUTHENTICATED, ' +
    'FORBIDDEN, NOT_FOUND, INVALID_STATE, CONFLICT, INSUFFICIENT_CREDITS, NOT_ELIGIBLE, …); typed errors add ' +
    '`extensions.type` (e.g. ValidationError) and their fields (`issues`, `currentStatus`, `available`, …).',
  properties: {
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['message', 'extensions'],
        properties: {
          message: { type: 'string' },
          extensions: {
            type: 'object',
            required: ['code'],
            properties: { code: { type: 'string' }, type: { type: 'string' } },
            additionalProperties: true,
          },
        },
      },
    },
  },
};
const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } };

const REGISTER_OPENAPI = {
  post: {
    operationId: 'registerAgent',
    tags: ['agents'],
    summary: 'Register an agent (member key)',
    description:
      'A workspace member registers an agent the workspace owns. The answer carries the agent’s own API key, shown ' +
      'once. `framework` is accepted in any case (`eliza`, `ELIZA`). Skills are normalised.',
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string' },
              framework: {
                type: 'string',
                example: 'eliza',
                description: 'mastra, eliza, autogpt, crewai, langgraph, custom',
              },
              description: { type: 'string' },
              skills: { type: 'array', items: { type: 'string' }, example: ['web search', 'summarise'] },
              tools: { type: 'array', items: { type: 'string' } },
              languages: { type: 'array', items: { type: 'string' } },
              webhookUrl: { type: 'string', example: 'https://my-eliza.example.com/webhook' },
              apiEndpoint: { type: 'string' },
              creditRate: { type: 'integer' },
              maxConcurrentJobs: { type: 'integer' },
              averageResponseTime: { type: 'integer' },
            },
          },
        },
      },
    },
    responses: {
      '201': {
        description: 'Registered',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                agentId: { type: 'string' },
                apiKey: { type: 'string', description: 'The agent’s key. Shown once.' },
                agent: { $ref: '#/components/schemas/Agent' },
              },
            },
          },
        },
      },
      '400': { description: 'ValidationError (`extensions.issues: [{ path, message }]`)', content: ERROR_CONTENT },
      '401': { description: 'Missing, unknown or revoked key', content: ERROR_CONTENT },
      '403': { description: 'Not a member key', content: ERROR_CONTENT },
    },
  },
};

/** A mutation route whose GraphQL field takes `input`: its body may be flat (`{ jobId, message }`). */
interface FlatRoute {
  method: string;
  pattern: RegExp;
  /** The field's arguments other than `input` (e.g. `executionId`, `id`). */
  args: Set<string>;
  /** The fields of the `input` argument's type. */
  inputFields: Set<string>;
}

const routePattern = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`);

function flatRoutes(schema: GraphQLSchemaT): FlatRoute[] {
  const mutations = schema.getMutationType()?.getFields() ?? {};
  return Object.entries(ROUTES).flatMap(([name, route]) => {
    const field = name.startsWith('Mutation.') ? mutations[name.slice('Mutation.'.length)] : undefined;
    const input = field?.args.find((a) => a.name === 'input');
    const type = input && (isNonNullType(input.type) ? input.type.ofType : input.type);
    if (!field || !type || !('getFields' in type) || isObjectType(type)) return [];
    return [
      {
        method: route.method,
        pattern: routePattern(route.path),
        args: new Set(field.args.map((a) => a.name).filter((n) => n !== 'input')),
        inputFields: new Set(Object.keys(type.getFields())),
      },
    ];
  });
}

/**
 * `{ jobId, message }` → `{ input: { jobId, message } }`. A body is flat when one of its keys is a field of the
 * input type and not an argument; so a wrapped body, and a flat one whose input type has an `input` field of its
 * own (a tool call's input), are both read right.
 */
function wrapFlatBody(body: unknown, route: FlatRoute): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const entries = Object.entries(body);
  if (!entries.some(([k]) => route.inputFields.has(k) && !route.args.has(k) && k !== 'input')) return body;
  const args = Object.fromEntries(entries.filter(([k]) => route.args.has(k)));
  return { ...args, input: Object.fromEntries(entries.filter(([k]) => !route.args.has(k))) };
}

type OpenApiOperation = {
  operationId?: string;
  requestBody?: { required?: boolean; description?: string; content?: Record<string, { schema?: OpenApiSchema }> };
  responses?: Record<string, unknown>;
};
type OpenApiSchema = {
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
  $ref?: string;
  allOf?: unknown[];
};

/**
 * SOFA's document, completed: every operation without an operationId gets its GraphQL field name, bodies of `input`
 * routes are documented flat, path parameters are not asked for again in the body, and every operation
 * names the error body.
 */
function completeOpenApi(doc: {
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, unknown> };
}) {
  const fieldOf = new Map(
    Object.entries(ROUTES).map(([name, r]) => [
      `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`,
      name.split('.')[1]!,
    ]),
  );
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, Errors: ERRORS_SCHEMA } };
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    const pathParams = new Set([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!));
    for (const [method, op] of Object.entries(operations)) {
      const field = fieldOf.get(`${method} ${path}`);
      // SOFA names its query routes `<field>_query`: clients generated from them keep those names.
      if (field && !op.operationId) op.operationId = field;
      op.responses = {
        ...op.responses,
        '4XX': { description: 'An error (one shape for all)', content: ERROR_CONTENT },
      };
      const media = op.requestBody?.content?.['application/json'];
      if (!field || !media?.schema?.properties) continue;
      const { properties, required = [] } = media.schema;
      const rest = Object.fromEntries(Object.entries(properties).filter(([k]) => k !== 'input' && !pathParams.has(k)));
      const restRequired = required.filter((k) => k in rest);
      const inputRef = (properties.input as OpenApiSchema | undefined)?.$ref;
      if (inputRef) {
        const restSchema = {
          type: 'object',
          properties: rest,
          ...(restRequired.length ? { required: restRequired } : {}),
        };
        media.schema = Object.keys(rest).length ? { allOf: [{ $ref: inputRef }, restSchema] } : { $ref: inputRef };
        op.requestBody!.description =
          'The fields of the input, flat. The `{ "input": { … } }` wrapper of the GraphQL argument is accepted too.';
      } else {
        media.schema = { type: 'object', properties: rest, ...(restRequired.length ? { required: restRequired } : {}) };
        if (Object.keys(rest).length === 0) op.requestBody!.required = false;
      }
    }
  }
  return doc;
}

/** Yoga plugins for `/api`: the explicit routes and error statuses, then SOFA. Put them in `createYoga({ plugins })`. */
export function restPlugins(): Plugin[] {
  let yoga: YogaHandle | undefined;
  let flat: FlatRoute[] = [];
  let openApi: string | undefined;
  const routes: Plugin = {
    onYogaInit({ yoga: instance }) {
      yoga = instance as unknown as YogaHandle;
    },
    onSchemaChange({ schema }) {
      flat = flatRoutes(schema);
      openApi = undefined;
    },
    async onRequest({ request, url, endResponse, serverContext, setRequest }) {
      if (!url.pathname.startsWith(`${REST_BASE}/`)) return;
      const path = url.pathname.slice(REST_BASE.length).replace(/\/+$/, '');
      // SOFA's subscription webhooks would make the server POST to any URL a caller names: not offered.
      if (path === '/webhook' || path.startsWith('/webhook/')) {
        return endResponse(json(404, errorBody('NOT_FOUND', 'Not found')));
      }
      if (path === '/agents/register') {
        if (request.method !== 'POST') {
          return endResponse(json(405, errorBody('METHOD_NOT_ALLOWED', 'Use POST'), { allow: 'POST' }));
        }
        return endResponse(await registerAgentRoute(yoga!, request, serverContext as Record<string, unknown>));
      }
      const route = flat.find((r) => r.method === request.method && r.pattern.test(path));
      if (!route || !request.headers.get('content-type')?.includes('json')) return;
      const text = await request.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const wrapped = body === undefined ? text : JSON.stringify(wrapFlatBody(body, route));
      const headers = new Headers(request.headers);
      headers.delete('content-length');
      setRequest(new Request(request.url, { method: request.method, headers, body: wrapped }));
    },
    async onResponse({ request, response, setResponse }) {
      const pathname = new URL(request.url).pathname;
      if (!pathname.startsWith(`${REST_BASE}/`)) return;
      if (pathname === `${REST_BASE}/openapi.json` && request.method === 'GET' && response.status === 200) {
        openApi ??= JSON.stringify(completeOpenApi(await response.clone().json()));
        // The completed document is longer than SOFA's: its content-length must not travel with it.
        const headers = new Headers(response.headers);
        headers.delete('content-length');
        headers.set('content-type', 'application/json; charset=utf-8');
        setResponse(new Response(openApi, { status: 200, headers }));
        return;
      }
      // Mutation routes answer a result union's error member with 200, like GraphQL; REST wants a 4xx.
      if (response.status !== 200 || request.method === 'GET') return;
      if (!response.headers.get('content-type')?.includes('json')) return;
      try {
        const body = (await response.clone().json()) as ({ error?: unknown } & Record<string, unknown>) | null;
        const type = typeof body?.error === 'string' ? body.error : undefined;
        const status = type ? ERROR_STATUS[type] : undefined;
        if (body && type && status) setResponse(json(status, typedErrorBody(body, type)));
        else if (body && !type && Object.keys(body).some((k) => SOFA_ALIASES[k] && !(SOFA_ALIASES[k] in body))) {
          const named = Object.entries(body).map(([k, v]) => [SOFA_ALIASES[k] ?? k, v]);
          setResponse(json(200, Object.fromEntries(named), Object.fromEntries(response.headers)));
        }
      } catch {
        // not JSON after all: leave it
      }
    },
  };
  const sofa = useSofa({
    basePath: REST_BASE,
    routes: ROUTES,
    depthLimit: 1,
    openAPI: {
      endpoint: '/openapi.json',
      info: {
        title: 'Agentwork REST API',
        version: VERSION,
        description:
          'The agent-facing operations of the Agentwork GraphQL API as REST routes (generated by SOFA from the same ' +
          'schema). Authenticate with `Authorization: Bearer aw_live_...`. Bodies are the operation\u2019s arguments, ' +
          'flat (`{ jobId, message, ... }`; the `{ input: ... }` wrapper is accepted too). Every failure is a 4xx/5xx ' +
          'with one body: `{ errors: [{ message, extensions: { code, type?, ... } }] }` (schema `Errors`).',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'aw_live_... API key' } },
      },
      paths: { '/agents/register': REGISTER_OPENAPI },
      // Passed through into the document (fets' option type does not list it).
      ...({ security: [{ bearer: [] }] } as object),
    },
    // The docs page loads Swagger UI from a CDN; serve the document only (load it in any OpenAPI viewer).
    swaggerUI: { endpoint: false as unknown as string },
    errorHandler: ((errors: readonly unknown[]) => {
      let status = 500;
      const out = errors.map((error) => {
        const e = error as {
          message?: string;
          extensions?: { code?: string; http?: { status?: number } } & Record<string, unknown>;
        };
        // Unexpected failures arrive masked with INTERNAL_SERVER_ERROR (maskError); an error without a code was
        // raised by GraphQL itself over the request (a missing or mistyped argument): the caller's to fix.
        const code = e.extensions?.code ?? 'BAD_USER_INPUT';
        const candidate = e.extensions?.http?.status ?? CODE_STATUS[code];
        if (candidate) status = status === 500 ? candidate : Math.max(status, candidate);
        const { http: _http, ...extensions } = e.extensions ?? {};
        return { message: e.message ?? 'Unexpected error.', extensions: { ...extensions, code } };
      });
      return json(status, { errors: out }, status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    }) as unknown as SofaOptions['errorHandler'],
  });
  // SOFA builds its routes from the schema it is handed: hand it the agent-facing part only.
  const agentSofa: Plugin = {
    ...sofa,
    onSchemaChange(payload) {
      sofa.onSchemaChange?.({ ...payload, schema: agentFacingSchema(payload.schema) });
    },
  };
  return [routes, agentSofa];
}
