import { z } from 'zod';
import { formatCredits, MAX_CREDIT_AMOUNT } from './credits.ts';
import { ValidationError } from './errors.ts';

/** Parses `input` with `schema`; a failure becomes a ValidationError whose paths start at `prefix`. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, prefix: string[] = ['input']): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(result.error, prefix);
  return result.data;
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

export const pageArgs = z.object({
  first: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
});
