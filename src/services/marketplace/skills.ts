import { z } from 'zod';

/**
 * Skill and tool names are normalised so matching is not defeated by spelling:
 * case, spaces, `_` and `-` collapse to one kebab-case slug, then a small synonym table maps
 * common variants to one canonical skill (`web-search` → `web-research`, `analytics` → `data-analysis`).
 */

/** variant → canonical. Keep the canonical names short and generic. */
const SYNONYMS: Record<string, string> = {
  'web-search': 'web-research',
  'internet-research': 'web-research',
  browsing: 'web-research',
  'web-browsing': 'web-research',
  research: 'research',
  analytics: 'data-analysis',
  'data-analytics': 'data-analysis',
  'data-science': 'data-analysis',
  'analysis-of-data': 'data-analysis',
  summarisation: 'summarization',
  summarise: 'summarization',
  summarize: 'summarization',
  summary: 'summarization',
  'copy-writing': 'copywriting',
  'content-writing': 'writing',
  programming: 'coding',
  'software-development': 'coding',
  development: 'coding',
  'code-generation': 'coding',
  translate: 'translation',
  'data-cleaning': 'data-cleaning',
  'data-cleansing': 'data-cleaning',
  'cleaning-data': 'data-cleaning',
  scraping: 'web-scraping',
  'web-scraper': 'web-scraping',
};

/** A normalised slug: lowercase letters/digits, single dashes, 1-50 characters, may contain dots or slashes for tool names. */
const SLUG = /^[a-z0-9](?:[a-z0-9./]|-(?=[a-z0-9]))*$/;

export function slugify(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/** Canonical skill slug, or null when the input cannot be a skill name. */
export function normalizeSkill(raw: string): string | null {
  const slug = slugify(raw);
  if (!slug || slug.length > 50 || !SLUG.test(slug)) return null;
  return SYNONYMS[slug] ?? slug;
}

/** MCP tool names keep their own spelling but are compared case- and separator-insensitively. */
export function normalizeTool(raw: string): string | null {
  const slug = slugify(raw);
  if (!slug || slug.length > 100 || !SLUG.test(slug)) return null;
  return slug;
}

/** Normalises a list, dropping duplicates; returns the indexes of entries that are not valid names. */
export function normalizeList(
  raw: readonly string[],
  normalize: (s: string) => string | null,
): { values: string[]; invalid: number[] } {
  const values: string[] = [];
  const invalid: number[] = [];
  raw.forEach((item, index) => {
    const n = normalize(item);
    if (n === null) invalid.push(index);
    else if (!values.includes(n)) values.push(n);
  });
  return { values, invalid };
}

/** zod schema for a list of skills (or tools): normalised, de-duplicated; a bad entry is reported at its index. */
export function nameListSchema(kind: 'skill' | 'tool', max = 30) {
  const normalize = kind === 'skill' ? normalizeSkill : normalizeTool;
  return z
    .array(z.string().max(120, `each ${kind} must be at most 120 characters`))
    .max(max, `at most ${max} ${kind}s`)
    .transform((list, ctx) => {
      const { values, invalid } = normalizeList(list, normalize);
      for (const index of invalid) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `"${list[index]}" is not a valid ${kind} name: use letters, digits, spaces, - or _ (e.g. "web-research")`,
        });
      }
      return values;
    });
}
