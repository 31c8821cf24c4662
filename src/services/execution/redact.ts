/**
 * Tool-call inputs and outputs are stored and shown to humans: values under secret-looking keys
 * are replaced, long strings truncated and the whole value capped, so an agent cannot leak its
 * credentials into the trace or bloat it.
 */
const SECRET_KEY = /(pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session)/i;
const MAX_STRING = 4_000;
export const MAX_JSON_BYTES = 64 * 1024;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (typeof value === 'string')
    return value.length > MAX_STRING
      ? `${value.slice(0, MAX_STRING)}… [truncated ${value.length - MAX_STRING} chars]`
      : value;
  if (Array.isArray(value)) return value.slice(0, 1_000).map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value;
}

/** Redacts, then replaces the value with a preview when its JSON is still larger than the cap. */
export function redactAndCap(value: unknown): unknown {
  if (value === undefined) return null;
  const cleaned = redact(value);
  const json = JSON.stringify(cleaned) ?? 'null';
  if (Buffer.byteLength(json) <= MAX_JSON_BYTES) return cleaned;
  return { truncated: true, originalBytes: Buffer.byteLength(json), preview: json.slice(0, 2_000) };
}
