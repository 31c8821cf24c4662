import type { Block, Form, View } from '../core/view.ts';

/** Block Kit from the neutral view model (pure). Button action_ids carry the routing id. */
type SlackBlock = Record<string, unknown>;

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text: text.slice(0, 3000) });
const plain = (text: string) => ({ type: 'plain_text', text: text.slice(0, 150), emoji: true });

function bar(percent: number): string {
  const filled = Math.round(Math.max(0, Math.min(100, percent)) / 10);
  return `${'█'.repeat(filled)}${'░'.repeat(10 - filled)} ${percent}%`;
}

function block(b: Block, index: number): SlackBlock | null {
  switch (b.kind) {
    case 'header':
      return { type: 'header', text: plain(b.text) };
    case 'text':
      return { type: 'section', text: mrkdwn(b.text) };
    case 'fields':
      return { type: 'section', fields: b.fields.slice(0, 10).map((f) => mrkdwn(`*${f.label}*\n${f.value}`)) };
    case 'progress':
      return { type: 'section', text: mrkdwn(`\`${bar(b.percent)}\`${b.label ? `  ${b.label}` : ''}`) };
    case 'list':
      return { type: 'section', text: mrkdwn(b.items.map((i) => `• ${i}`).join('\n')) };
    case 'context':
      return { type: 'context', elements: [mrkdwn(b.text)] };
    case 'divider':
      return { type: 'divider' };
    case 'buttons':
      return {
        type: 'actions',
        block_id: `actions_${index}`,
        elements: b.buttons.map((btn) => ({
          type: 'button',
          action_id: btn.id,
          text: plain(btn.label),
          value: btn.id,
          ...(btn.style ? { style: btn.style } : {}),
        })),
      };
  }
}

export function toBlocks(view: View): SlackBlock[] {
  const blocks = view.blocks.map(block).filter((b): b is SlackBlock => b !== null);
  if (view.link) {
    // A mrkdwn link, not a URL button: Slack sends URL buttons to the app as actions that would need an ack.
    const link = { type: 'context', elements: [mrkdwn(`<${view.link.url}|${view.link.label}>`)] };
    const actions = blocks.findIndex((b) => b.type === 'actions');
    blocks.splice(actions === -1 ? blocks.length : actions, 0, link);
  }
  return blocks;
}

/** A modal (views.open). `private_metadata` carries where the form came from (channel, message). */
export function toModal(form: Form, privateMetadata: string): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: form.id,
    private_metadata: privateMetadata,
    title: plain(form.title.slice(0, 24)),
    submit: plain(form.submitLabel),
    close: plain('Cancel'),
    blocks: form.fields.map((f) => ({
      type: 'input',
      block_id: f.id,
      optional: Boolean(f.optional),
      label: plain(f.label),
      element:
        f.kind === 'select'
          ? {
              type: 'static_select',
              action_id: 'value',
              options: (f.options ?? []).map((o) => ({ text: plain(o.label), value: o.value })),
              ...(f.options?.[0]
                ? { initial_option: { text: plain(f.options[0].label), value: f.options[0].value } }
                : {}),
            }
          : {
              type: f.kind === 'number' ? 'number_input' : 'plain_text_input',
              action_id: 'value',
              ...(f.kind === 'number' ? { is_decimal_allowed: false } : {}),
              ...(f.kind === 'multiline' ? { multiline: true } : {}),
              ...(f.placeholder ? { placeholder: plain(f.placeholder) } : {}),
              ...(f.initial ? { initial_value: f.initial } : {}),
            },
    })),
  };
}

/** Reads a submitted modal's values back into `{ fieldId: string }`. */
export function modalValues(state: {
  values?: Record<string, Record<string, { value?: string | null; selected_option?: { value: string } | null }>>;
}) {
  const out: Record<string, string> = {};
  for (const [blockId, actions] of Object.entries(state.values ?? {})) {
    const v = actions.value;
    out[blockId] = v?.selected_option?.value ?? v?.value ?? '';
  }
  return out;
}
