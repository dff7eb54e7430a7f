import type { StandardIssue, StandardSchemaV1 } from './standard-schema.js';

/** Which path a sampling request takes. */
export type SamplingSource = 'client' | 'fallback';

/** Try the client first (the fallback covers clients that cannot or will not sample), or go straight to the fallback. */
export type SamplingPreference = 'client' | 'fallback';

export type SourceDecision = { ok: true; source: SamplingSource } | { ok: false; reason: 'unsupported' };

/** Where a sampling request goes, given what the client declared and whether a fallback exists. */
export function chooseSource(input: {
  clientCanSample: boolean;
  hasFallback: boolean;
  prefer: SamplingPreference;
}): SourceDecision {
  if (input.hasFallback && (input.prefer === 'fallback' || !input.clientCanSample)) {
    return { ok: true, source: 'fallback' };
  }
  if (input.clientCanSample) return { ok: true, source: 'client' };
  return { ok: false, reason: 'unsupported' };
}

/** Case, surrounding whitespace, quotes, backticks, Markdown emphasis and one trailing period do not matter. */
function normalizeLabel(value: string): string {
  let s = value.trim();
  for (;;) {
    const stripped = s
      .replace(/^(["'`*_]+)(.*?)\1$/s, '$2')
      .replace(/\.$/, '')
      .trim();
    if (stripped === s) break;
    s = stripped;
  }
  return s.replace(/\s+/g, ' ').toLowerCase();
}

/** Checks a label set once: non-empty, non-blank, and distinct after normalization (else answers are ambiguous). */
export function checkLabels(labels: readonly string[]): void {
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new TypeError('classify: labels must be a non-empty array of strings');
  }
  const seen = new Map<string, string>();
  for (const label of labels) {
    if (typeof label !== 'string' || normalizeLabel(label) === '') {
      throw new TypeError(`classify: every label must be a non-blank string, got ${JSON.stringify(label)}`);
    }
    const key = normalizeLabel(label);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new TypeError(
        `classify: labels ${JSON.stringify(other)} and ${JSON.stringify(label)} are the same`,
      );
    }
    seen.set(key, label);
  }
}

export type LabelDecision<L extends string> = { ok: true; label: L } | { ok: false; answer: string };

/**
 * Strict: the whole answer must be one label. "bug" and "**Bug**." match `bug`; "I think it is a bug" does not,
 * because a model that explains itself has not followed the instruction and may have meant something else.
 */
export function parseLabel<L extends string>(answer: string, labels: readonly L[]): LabelDecision<L> {
  const key = normalizeLabel(answer);
  const label = labels.find((l) => normalizeLabel(l) === key);
  return label === undefined ? { ok: false, answer } : { ok: true, label };
}

export type JsonDecision<T> = { ok: true; value: T } | { ok: false; problem: string };

const FENCED = /^```[\w-]*[ \t]*\r?\n([\s\S]*?)\r?\n?```$/;

/** Parses an answer as one JSON value; a single Markdown code fence around it is tolerated (models add them). */
export function parseJsonAnswer(answer: string): JsonDecision<unknown> {
  let text = answer.trim();
  const fenced = FENCED.exec(text);
  if (fenced) text = fenced[1]!.trim();
  if (text === '') return { ok: false, problem: 'the answer was empty' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, problem: `the answer is not valid JSON (${(err as Error).message})` };
  }
}

function pathOf(issue: StandardIssue): string {
  const keys = (issue.path ?? []).map((p) => (typeof p === 'object' && p !== null ? p.key : p));
  return keys.length === 0 ? '(root)' : keys.map(String).join('.');
}

/** Validates a parsed value; the problem lists the first few issues as `path: message`. */
export async function validateAnswer<T>(
  schema: StandardSchemaV1<unknown, T>,
  value: unknown,
): Promise<JsonDecision<T>> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return { ok: true, value: result.value };
  const shown = result.issues.slice(0, 5).map((i) => `${pathOf(i)}: ${i.message}`);
  const more =
    result.issues.length > shown.length ? ` (and ${result.issues.length - shown.length} more)` : '';
  return { ok: false, problem: `the JSON does not match the schema: ${shown.join('; ')}${more}` };
}
