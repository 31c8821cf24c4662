import { createChatLinkCode } from '../services/chat/chat-links.ts';
import { builder } from './builder.ts';
import { COMMON_ERRORS } from './errors.ts';

const ChatLinkCodePayload = builder.objectRef<{ code: string; expiresAt: Date }>('ChatLinkCodePayload').implement({
  fields: (t) => ({
    code: t.exposeString('code', { description: 'Send `/agentwork link <code>` in Slack or Discord. One use.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('createChatLinkCode', (t) =>
  t.field({
    type: ChatLinkCodePayload,
    description:
      'A one-time code (15 minutes) that links a Slack or Discord user to you (or, for OWNER/ADMIN, to another member): they then act in chat with that member’s role.',
    authScopes: { member: true },
    args: { memberId: t.arg.id() },
    errors: { types: COMMON_ERRORS },
    resolve: (_root, { memberId }, ctx) => createChatLinkCode(ctx.db, ctx.viewer, memberId ? String(memberId) : null),
  }),
);
