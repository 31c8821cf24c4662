// Imports every domain file for its side effects on the builder, then builds the schema.
import { builder } from './builder.ts';
import './errors.ts';
import './node.ts';
import './accounts.ts';
import './agent.ts';
import './job.ts';
import './bid.ts';
import './dealing.ts';
import './execution.ts';
import './events.ts';
import './review.ts';
import './wallet.ts';
import './chat.ts';
import './webhooks.ts';

export const schema = builder.toSchema({ sortSchema: true });
