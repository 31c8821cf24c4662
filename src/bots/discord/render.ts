import type { Form, View } from '../core/view.ts';

/** Discord embeds and components from the neutral view model (pure). Raw API shapes (v10). */
const COLORS = { neutral: 0x4b5563, good: 0x16a34a, warning: 0xd97706, danger: 0xdc2626 } as const;
const EPHEMERAL = 1 << 6;

function bar(percent: number): string {
  const filled = Math.round(Math.max(0, Math.min(100, percent)) / 10);
  return `${'▰'.repeat(filled)}${'▱'.repeat(10 - filled)} ${percent}%`;
}

/** Slack-flavoured mrkdwn (`*bold*`, `<url|label>`) to Discord markdown. */
const md = (text: string) =>
  text.replace(/(^|\s)\*([^*\n]+)\*/g, '$1**$2**').replace(/<(https?:[^|>]+)\|([^>]+)>/g, '[$2]($1)');

export function toMessage(view: View): Record<string, unknown> {
  const embed: Record<string, unknown> = { color: COLORS[view.tone ?? 'neutral'] };
  const description: string[] = [];
  const fields: { name: string; value: string; inline: boolean }[] = [];
  const components: unknown[] = [];
  for (const b of view.blocks) {
    switch (b.kind) {
      case 'header':
        if (!embed.title) embed.title = b.text.slice(0, 256);
        else description.push(`**${b.text}**`);
        break;
      case 'text':
        description.push(md(b.text));
        break;
      case 'list':
        description.push(b.items.map((i) => `• ${md(i)}`).join('\n'));
        break;
      case 'progress':
        description.push(`\`${bar(b.percent)}\`${b.label ? `  ${b.label}` : ''}`);
        break;
      case 'fields':
        for (const f of b.fields)
          fields.push({ name: f.label.slice(0, 256), value: md(f.value).slice(0, 1024) || '—', inline: true });
        break;
      case 'context':
        embed.footer = { text: b.text.replace(/`/g, '').slice(0, 2048) };
        break;
      case 'divider':
        description.push('');
        break;
      case 'buttons':
        components.push({
          type: 1,
          components: b.buttons.slice(0, 5).map((btn) => ({
            type: 2,
            custom_id: btn.id,
            label: btn.label.slice(0, 80),
            style: btn.style === 'primary' ? 3 : btn.style === 'danger' ? 4 : 2,
          })),
        });
        break;
    }
  }
  if (view.link) {
    // The title links to the page, and a link button (style 5: opens the URL, sends no interaction) says so.
    if (embed.title) embed.url = view.link.url;
    components.push({ type: 1, components: [{ type: 2, style: 5, label: view.link.label, url: view.link.url }] });
  }
  if (description.length) embed.description = description.join('\n').slice(0, 4096);
  if (fields.length) embed.fields = fields.slice(0, 25);
  return {
    content: '',
    embeds: [embed],
    components,
    allowed_mentions: { parse: [] },
    ...(view.ephemeral ? { flags: EPHEMERAL } : {}),
  };
}

/** A modal (interaction response type 9). Discord modals hold text inputs; selects become hinted text. */
export function toModal(form: Form): Record<string, unknown> {
  return {
    custom_id: form.id,
    title: form.title.slice(0, 45),
    components: form.fields.slice(0, 5).map((f) => ({
      type: 1,
      components: [
        {
          type: 4,
          custom_id: f.id,
          label: (f.kind === 'select'
            ? `${f.label} (${(f.options ?? []).map((o) => o.value).join('/')})`
            : f.label
          ).slice(0, 45),
          style: f.kind === 'multiline' ? 2 : 1,
          required: !f.optional,
          ...(f.placeholder ? { placeholder: f.placeholder.slice(0, 100) } : {}),
          ...(f.initial
            ? { value: f.initial }
            : f.kind === 'select' && f.options?.[0]
              ? { value: f.options[0].value }
              : {}),
        },
      ],
    })),
  };
}

/** Values of a submitted modal: `{ fieldId: value }`. */
export function modalValues(
  components: { components?: { custom_id: string; value?: string }[] }[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of components) for (const c of row.components ?? []) out[c.custom_id] = c.value ?? '';
  return out;
}

export { EPHEMERAL };
