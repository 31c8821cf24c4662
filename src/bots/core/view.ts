/**
 * The neutral view model every chat renderer draws: Slack turns it into Block Kit, Discord into
 * embeds and components. Builders in views.ts are pure functions from domain data to this.
 */
export type Tone = 'neutral' | 'good' | 'warning' | 'danger';

export interface Button {
  /** Routed by prefix, survives restarts: `bid:accept:<bidId>`. */
  id: string;
  label: string;
  style?: 'primary' | 'danger';
}

export type Block =
  | { kind: 'header'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'fields'; fields: { label: string; value: string }[] }
  | { kind: 'progress'; percent: number; label?: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'context'; text: string }
  | { kind: 'buttons'; buttons: Button[] }
  | { kind: 'divider' };

export interface View {
  /** Plain-text fallback (notifications, screen readers). */
  text: string;
  tone?: Tone;
  blocks: Block[];
  /** Only the person who ran the command sees it. */
  ephemeral?: boolean;
  /** A page the message is about (a job's live page): Slack shows a link, Discord links the title and adds a link button. */
  link?: { url: string; label: string };
}

export interface FormField {
  id: string;
  label: string;
  kind: 'text' | 'multiline' | 'number' | 'select';
  optional?: boolean;
  placeholder?: string;
  initial?: string;
  options?: { value: string; label: string }[];
}

/** A modal form: Slack views.open, Discord modals. `id` routes the submission (`review:<exeId>`). */
export interface Form {
  id: string;
  title: string;
  submitLabel: string;
  fields: FormField[];
}
