import { z } from 'zod';
import { formatCredits, MAX_CREDIT_AMOUNT } from './credits.ts';
import { ValidationError, type ValidationIssue } from './errors.ts';

/**
 * Parses `input` with `schema`; a failure becomes a ValidationError whose paths start at `prefix`.
 * Every input is first searched for NUL characters (U+0000), in strings and object keys at any
 * depth, JSON included: PostgreSQL refuses them in text and jsonb (22021 / 22P05), so they are
 * refused here, with their paths, before anything is written.
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, prefix: string[] = ['input']): z.output<S> {
  const nul = nulIssues(input, prefix);
  if (nul.length) throw new ValidationError(nul);
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(result.error, prefix);
  return result.data;
}

export const NUL_MESSAGE = 'must not contain NUL characters (\\u0000)';
const MAX_NUL_ISSUES = 20;

/** Where `value` holds a NUL character (strings, object keys, arrays; depth-limited like JSON). */
export function nulIssues(
  value: unknown,
  path: string[] = [],
  out: ValidationIssue[] = [],
  depth = 0,
): ValidationIssue[] {
  if (out.length >= MAX_NUL_ISSUES || depth > 64) return out;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) out.push({ path, message: NUL_MESSAGE });
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) nulIssues(item, [...path, String(i)], out, depth + 1);
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000'))
        out.push({ path: [...path, key.replaceAll('\u0000', '\\u0000')], message: NUL_MESSAGE });
      else nulIssues(item, [...path, key], out, depth + 1);
    }
  }
  return out;
}

/** Shared field rules, so the same field is validated the same way everywhere. */
export const fields = {
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  // Deliberately permissive (RFC 5322 is wider than any regex): something@domain.tld, no spaces.
  email: z
    .string()
    .trim()
    .toLowerCase()
    .max(320, 'must be at most 320 characters')
    .regex(/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/, 'must be a valid email address'),
  text: (max: number) => z.string().max(max, `must be at most ${max} characters`),
  id: z.string().trim().min(1, 'must not be empty').max(100),
  credits: z
    .number()
    .int('must be a whole number of credits')
    .min(1, 'must be at least 1')
    .max(MAX_CREDIT_AMOUNT, `must be at most ${formatCredits(MAX_CREDIT_AMOUNT)} credits`),
};

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * An absolute URL an agent or workspace gives us to call (webhooks, endpoints, agent cards):
 * https only; plain http only for loopback hosts, and only outside production (local development).
 */
export function callbackUrl(options: { allowLoopbackHttp: boolean }) {
  return z
    .string()
    .trim()
    .max(2048, 'must be at most 2048 characters')
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          if (url.username || url.password) return false;
          if (url.protocol === 'https:') return true;
          return url.protocol === 'http:' && options.allowLoopbackHttp && LOOPBACK_HOSTS.has(url.hostname);
        } catch {
          return false;
        }
      },
      options.allowLoopbackHttp
        ? 'must be an https:// URL (http:// is accepted for localhost in development)'
        : 'must be an https:// URL without credentials',
    );
}

/** The largest page any list or connection returns (Pothos' maxConnectionSize, offset connections alike). */
export const MAX_PAGE_SIZE = 100;

export const pageArgs = z.object({
  first: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .default(20),
});

/** `first` / `last` of every connection and list field (0 is a valid, empty page). */
export const pageSizeArgs = z.object({
  first: z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .nullish(),
  last: z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .nullish(),
});
