import { RE2JS, RE2JSException } from 're2js';
import { ExprCheckError } from './errors.js';

/** Bounds of user patterns: their length, and how much text one search reads. */
export const PATTERN_LIMITS = {
  /** Longest pattern accepted, in characters. */
  maxLength: 1024,
  /** Text longer than this is cut to its first `maxInput` characters before a search. */
  maxInput: 65536,
} as const;

/** How a pattern is compiled. */
export interface PatternOptions {
  ignoreCase?: boolean;
}

/**
 * A compiled user pattern. It runs on RE2's linear-time engine (re2js): a search costs time
 * proportional to the text, whatever the pattern, so no text can freeze the probe.
 */
export interface Pattern {
  readonly source: string;
  /** Whether the pattern matches anywhere in `text` (its first `PATTERN_LIMITS.maxInput` characters). */
  test(text: string): boolean;
}

// What RE2 refuses that JavaScript accepts, said so that the author knows what to write instead.
const HINTS: Array<[RegExp, string]> = [
  [/^\\[1-9]/, 'backreferences are not supported'],
  [/^\(\?<?[=!]/, 'lookahead and lookbehind are not supported'],
  [/^\\u/, 'write \\x{00e9} for a code point'],
  [/^\\c/, 'write \\x01 for a control character'],
  [/^\[\^?\]/, 'an empty class never matches; use [\\s\\S] for any character'],
];

/** Why RE2 refuses `source` and where (an offset into it), or the compiled program. */
function build(source: string, opts: PatternOptions): RE2JS | { message: string; offset: number } {
  if (source.length > PATTERN_LIMITS.maxLength) return { message: `pattern longer than ${PATTERN_LIMITS.maxLength} characters`, offset: PATTERN_LIMITS.maxLength };
  try {
    return RE2JS.compile(source, opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    const e = err as RE2JSException & { getDescription?: () => string; getPattern?: () => string | null };
    const fragment = e.getPattern?.() ?? '';
    const found = fragment ? source.indexOf(fragment) : -1;
    const hint = HINTS.find(([re]) => re.test(fragment))?.[1];
    const what = e.getDescription?.() ?? e.message;
    return {
      message: `${what}${fragment ? ` '${fragment.slice(0, 40)}'` : ''}${hint ? ` (${hint}: patterns run on a linear-time engine, RE2 syntax)` : ''}`,
      offset: found < 0 ? 0 : found,
    };
  }
}

/**
 * Compiles a user pattern (RE2 syntax: JavaScript's without backreferences and lookaround);
 * throws ExprCheckError saying what the engine cannot do and where in `source`.
 */
export function compilePattern(source: string, opts: PatternOptions = {}): Pattern {
  const r = build(source, opts);
  if (!(r instanceof RE2JS)) throw new ExprCheckError(`invalid pattern: ${r.message}`, source, r.offset);
  const max = PATTERN_LIMITS.maxInput;
  return { source, test: (text) => r.test(text.length > max ? text.slice(0, max) : text) };
}

