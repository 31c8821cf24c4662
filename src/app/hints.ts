import { type DocumentNode, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../schema/context.ts';

export const ANONYMOUS_VIEWER_HINT =
  'No Authorization header: `viewer` is null for anonymous requests. Create a workspace with the ' +
  '`createWorkspace` mutation (or `npm run cli -- workspace create`) and send `Authorization: Bearer aw_live_…`.';

/** Whether the operation asks for `viewer` at its root (directly, or through fragments). */
function selectsViewer(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (operation?.operation !== 'query') return false;
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode): boolean =>
    set.selections.some((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === 'viewer';
      if (s.kind === Kind.INLINE_FRAGMENT) return walk(s.selectionSet);
      if (seen.has(s.name.value)) return false;
      seen.add(s.name.value);
      const fragment = fragments.get(s.name.value);
      return fragment ? walk(fragment.selectionSet) : false;
    });
  return walk(operation.selectionSet);
}

/**
 * A newcomer's first `{ viewer }` without a key answers `null` with HTTP 200 (anonymous is a valid
 * principal: `createWorkspace` needs it). Say why in the response's `extensions.hint`.
 */
export function anonymousViewerHint(): Plugin<Context> {
  return {
    onExecute({ args }) {
      const viewer = (args.contextValue as Partial<Context>).viewer;
      if (viewer?.kind !== 'anonymous' || !selectsViewer(args.document, args.operationName)) return;
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, hint: ANONYMOUS_VIEWER_HINT } });
        },
      };
    },
  };
}
