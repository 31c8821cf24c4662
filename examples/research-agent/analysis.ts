/**
 * The research agent's actual work: plain, deterministic text analysis (no model, no network).
 * Term frequency over a stopword list for the key terms; sentences scored by the key terms they carry.
 */

const STOPWORDS = new Set(
  `a about above after again against all almost also although always am among an and another any anyone anything
  are around as at be became because become been before being below between both but by can cannot could did do does
  doing done down during each either else enough even ever every few for from further get gets got had has have
  having he her here hers herself him himself his how however i if in into is it its itself just least less like
  made make makes many may me might more most much must my myself near need never new no nor not now of off often on
  once one only or other others our ours ourselves out over own per perhaps put rather really said same say says see
  seen several she should since so some something still such than that the their theirs them themselves then there
  these they thing things this those though through thus to too toward under until up upon us use used uses using
  very via was way we well were what when where whether which while who whom whose why will with within without
  would yet you your yours yourself yourselves year years two three first second last back across along already`
    .split(/\s+/)
    .filter(Boolean),
);

export interface Term {
  term: string;
  count: number;
}

export interface Analysis {
  title: string | null;
  wordCount: number;
  sentenceCount: number;
  terms: Term[];
  keySentences: string[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—' };

/** Readable text from HTML (or plain text, unchanged but for whitespace): scripts, styles and tags removed. */
export function htmlToText(source: string): { text: string; title: string | null } {
  const titleMatch = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(source) ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(source);
  const decode = (s: string) =>
    s
      .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
      .replace(/&([a-z]+);/gi, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m);
  // Source line breaks mean nothing in HTML (and wrap sentences in plain text): only blocks and blank lines break.
  const text = source
    .replace(/\r/g, '')
    .replace(/\n\s*\n/g, '</p>')
    .replace(/\n/g, ' ')
    .replace(/<(script|style|head|nav|footer)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<\/(p|div|h[1-6]|li|br|section|article)>/gi, '\n')
    .replace(/<[^>]+>/g, ' ');
  const cleaned = decode(text)
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
  const title = titleMatch ? decode(titleMatch[1]!.replace(/<[^>]+>/g, '')).trim() : null;
  return { text: cleaned, title };
}

/** Lower-case word tokens without stopwords, numbers or words shorter than 3 letters. */
export function tokenize(text: string): string[] {
  const words = text.toLowerCase().match(/[a-z][a-z'’-]*[a-z]/g) ?? [];
  return words
    .map((w) => w.replace(/['’]s$/, '').replace(/['’]/g, ''))
    .filter((w) => w.length >= 3 && !STOPWORDS.has(w));
}

/** The `limit` most frequent terms; ties broken alphabetically so the answer never varies. */
export function topTerms(text: string, limit = 10): Term[] {
  const counts = new Map<string, number>();
  for (const token of tokenize(text)) counts.set(token, (counts.get(token) ?? 0) + 1);
  return [...counts.entries()]
    .map(([term, count]) => ({ term, count }))
    .sort((a, b) => b.count - a.count || a.term.localeCompare(b.term))
    .slice(0, limit);
}

export function splitSentences(text: string): string[] {
  return text
    .split(/\n+/)
    .flatMap((paragraph) => paragraph.split(/(?<=[.!?])\s+(?=["'“(]?[A-Z0-9])/))
    .map((s) => s.trim())
    .filter((s) => s.split(/\s+/).length >= 5);
}

/**
 * The `limit` sentences that carry the most key-term weight (sum of the terms' frequencies, divided by the
 * square root of the sentence's length so long sentences do not win by size), in their original order.
 */
export function keySentences(text: string, terms: Term[], limit = 3): string[] {
  const weight = new Map(terms.map((t) => [t.term, t.count]));
  const scored = splitSentences(text).map((sentence, index) => {
    const tokens = tokenize(sentence);
    const score = tokens.reduce((sum, token) => sum + (weight.get(token) ?? 0), 0) / Math.sqrt(tokens.length || 1);
    return { sentence, index, score };
  });
  return scored
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, limit)
    .sort((a, b) => a.index - b.index)
    .map((s) => s.sentence);
}

export function analyse(source: string, options: { terms?: number; sentences?: number } = {}): Analysis {
  const { text, title } = htmlToText(source);
  const terms = topTerms(text, options.terms ?? 10);
  return {
    title,
    wordCount: text.split(/\s+/).filter(Boolean).length,
    sentenceCount: splitSentences(text).length,
    terms,
    keySentences: keySentences(text, terms, options.sentences ?? 3),
  };
}

/** The Markdown report submitted as `report.md`. */
export function renderReport(input: {
  jobTitle: string;
  source: string;
  analysis: Pick<Analysis, 'title' | 'wordCount' | 'sentenceCount'>;
  terms: Term[];
  sentences: string[];
}): string {
  const { jobTitle, source, analysis, terms, sentences } = input;
  const lines = [
    `# ${jobTitle}`,
    '',
    `Source: ${source}${analysis.title ? ` (“${analysis.title}”)` : ''}  `,
    `${analysis.wordCount} words, ${analysis.sentenceCount} sentences.`,
    '',
    '## Key terms',
    '',
    '| # | term | count |',
    '|---|---|---|',
    ...terms.map((t, i) => `| ${i + 1} | ${t.term} | ${t.count} |`),
    '',
    '## Summary: key sentences',
    '',
    ...sentences.map((s) => `- ${s}`),
    '',
    '_Method: term frequency over a stopword list; sentences ranked by the key terms they contain._',
    '',
  ];
  return lines.join('\n');
}
