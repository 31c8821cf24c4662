import {
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLSchema,
  getArgumentValues,
  getVariableValues,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isDomainError, type ValidationError } from '../services/kernel/errors.ts';
import { pageSizeArgs, parse } from '../services/kernel/validation.ts';

/**
 * `first` / `last` of every field that pages (Relay connections, whatever resolves them, and the
 * ranked lists), checked in one place before execution starts: a negative size or one over
 * MAX_PAGE_SIZE is a validation error (extensions.code BAD_USER_INPUT, `issues` with the argument
 * as path), as a ValidationError thrown by a query reads; never "Unexpected error.", never a
 * silent clamp. Nested connections are checked too, before their parent's query runs.
 */
type Paged = { node: FieldNode; field: GraphQLField<unknown, unknown>; parent: string };

/** Fields with a `first` or `last` argument, per parsed document (yoga caches documents). */
const pagedFieldsOf = new WeakMap<DocumentNode, Paged[]>();

function pagedFields(schema: GraphQLSchema, document: DocumentNode): Paged[] {
  const cached = pagedFieldsOf.get(document);
  if (cached) return cached;
  const found: Paged[] = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const field = typeInfo.getFieldDef();
        if (field?.args.some((a) => a.name === 'first' || a.name === 'last')) {
          found.push({ node, field, parent: typeInfo.getParentType()?.name ?? '' });
        }
      },
    }),
  );
  pagedFieldsOf.set(document, found);
  return found;
}

export function pageArgsError(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): GraphQLError | null {
  const fields = pagedFields(schema, document);
  if (fields.length === 0) return null;
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  const coerced = getVariableValues(schema, operation?.variableDefinitions ?? [], rawVariables ?? {});
  // Bad variables are reported by GraphQL's own execution, with its own message.
  if (coerced.errors) return null;
  for (const { node, field, parent } of fields) {
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(field, node, coerced.coerced);
    } catch {
      continue; // likewise: GraphQL reports malformed arguments itself
    }
    try {
      parse(pageSizeArgs, { first: args.first, last: args.last }, []);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      const { issues } = error as ValidationError;
      return new GraphQLError(
        `Invalid input: ${parent}.${field.name}(${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
        {
          nodes: [node],
          extensions: { code: 'BAD_USER_INPUT', type: 'ValidationError', issues },
        },
      );
    }
  }
  return null;
}

/** The envelop plugin: HTTP, SSE, graphql-ws and the REST mirror all execute through yoga's envelope. */
export function usePageArgs(): Plugin {
  const check = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: unknown };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const error = pageArgsError(
      args.schema,
      args.document,
      args.operationName,
      args.variableValues as Record<string, unknown> | undefined,
    );
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  return {
    onExecute: check,
    onSubscribe: check,
  };
}
