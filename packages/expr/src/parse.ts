import { ExprSyntaxError } from './errors.js';

/** The syntax tree. Every node knows its offset in the source for error messages. */
export type Node =
  | { type: 'num'; value: number; at: number }
  | { type: 'str'; value: string; at: number }
  | { type: 'bool'; value: boolean; at: number }
  | { type: 'null'; at: number }
  | { type: 'ref'; name: string; device?: string; at: number }
  | { type: 'list'; items: Node[]; at: number }
  | { type: 'unary'; op: '-' | '!'; arg: Node; at: number }
  | { type: 'binary'; op: BinaryOp; left: Node; right: Node; at: number }
  | { type: 'cond'; test: Node; then: Node; else: Node; at: number }
  | { type: 'call'; fn: string; args: Node[]; at: number };

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '**' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '&&' | '||' | 'in';

type Tok =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'id'; v: string; at: number; quoted: boolean }
  | { t: 'op'; v: string; at: number }
  | { t: 'eof'; at: number };

export const LIMITS = { maxLength: 4096, maxDepth: 64 } as const;

const OPS = ['**', '==', '!=', '<=', '>=', '&&', '||', '+', '-', '*', '/', '%', '<', '>', '!', '?', ':', '(', ')', ',', '[', ']', '@'];
const WORD_OPS: Record<string, string> = { and: '&&', or: '||', not: '!', in: 'in' };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/.exec(src.slice(i))!;
      if (/[A-Za-z_]/.test(src[i + m[0].length] ?? '')) throw new ExprSyntaxError(`malformed number '${src.slice(i, i + m[0].length + 1)}'`, src, at);
      out.push({ t: 'num', v: Number(m[0]), at });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ExprSyntaxError('unterminated string', src, at);
        const d = src[i]!;
        if (d === c) break;
        if (d === '\\') {
          const e = src[i + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
          if (e === undefined || !(e in map)) throw new ExprSyntaxError(`unknown escape '\\${e ?? ''}'`, src, i);
          s += map[e];
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      i++;
      out.push({ t: 'str', v: s, at });
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new ExprSyntaxError('unterminated `name`', src, at);
      const v = src.slice(i + 1, end);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new ExprSyntaxError(`\`${v}\` is not a valid id`, src, at);
      out.push({ t: 'id', v, at, quoted: true });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      const w = m[0];
      if (w in WORD_OPS) out.push({ t: 'op', v: WORD_OPS[w]!, at });
      else out.push({ t: 'id', v: w, at, quoted: false });
      i += w.length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprSyntaxError(`unexpected character '${c}'`, src, at);
    out.push({ t: 'op', v: op, at });
    i += op.length;
  }
  out.push({ t: 'eof', at: src.length });
  return out;
}

// Binding powers (higher binds tighter); ** is right-associative.
const INFIX: Record<string, number> = { '||': 1, '&&': 2, '==': 3, '!=': 3, '<': 4, '<=': 4, '>': 4, '>=': 4, in: 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6, '**': 8 };

/** Parses an expression into a tree; throws ExprSyntaxError with the position of the problem. */
export function parse(src: string): Node {
  if (src.length > LIMITS.maxLength) throw new ExprSyntaxError(`expression longer than ${LIMITS.maxLength} characters`, src, LIMITS.maxLength);
  const toks = tokenize(src);
  let p = 0;
  let depth = 0;
  const peek = () => toks[p]!;
  const describe = (t: Tok) => (t.t === 'eof' ? 'end of input' : t.t === 'str' ? 'a string' : `'${t.v}'`);
  const expect = (v: string) => {
    const t = peek();
    if (t.t !== 'op' || t.v !== v) throw new ExprSyntaxError(`expected '${v}' but found ${describe(t)}`, src, t.at);
    p++;
  };

  const isOp = (v: string) => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };
  /** Comma-separated expressions up to `close` (function arguments, list items). */
  const items = (close: string): Node[] => {
    const out: Node[] = [];
    if (!isOp(close)) {
      do out.push(expr(0));
      while (isOp(',') && ++p);
    }
    expect(close);
    return out;
  };

  const expr = (minBp: number): Node => {
    if (++depth > LIMITS.maxDepth) throw new ExprSyntaxError(`expression nested deeper than ${LIMITS.maxDepth}`, src, peek().at);
    let left = prefix();
    for (;;) {
      const t = peek();
      if (t.t !== 'op') break;
      if (t.v === '?' && minBp <= 0) {
        p++;
        const then = expr(0);
        expect(':');
        const otherwise = expr(0);
        left = { type: 'cond', test: left, then, else: otherwise, at: t.at };
        continue;
      }
      const bp = INFIX[t.v];
      if (bp === undefined || bp <= minBp) break;
      p++;
      const right = expr(t.v === '**' ? bp - 1 : bp);
      left = { type: 'binary', op: t.v as BinaryOp, left, right, at: t.at };
    }
    depth--;
    return left;
  };

  const prefix = (): Node => {
    const t = peek();
    p++;
    switch (t.t) {
      case 'num':
        return { type: 'num', value: t.v, at: t.at };
      case 'str':
        return { type: 'str', value: t.v, at: t.at };
      case 'id': {
        if (!t.quoted && (t.v === 'true' || t.v === 'false')) return { type: 'bool', value: t.v === 'true', at: t.at };
        if (!t.quoted && t.v === 'null') return { type: 'null', at: t.at };
        const n = peek();
        if (!t.quoted && n.t === 'op' && n.v === '(') {
          p++;
          return { type: 'call', fn: t.v, args: items(')'), at: t.at };
        }
        if (n.t === 'op' && n.v === '@') {
          p++;
          const d = peek();
          if (d.t === 'id') {
            p++;
            return { type: 'ref', name: t.v, device: d.v, at: t.at };
          }
          if (d.t === 'op' && d.v === '*') {
            p++;
            return { type: 'ref', name: t.v, device: '*', at: t.at };
          }
          throw new ExprSyntaxError(`expected a device id after '@' but found ${describe(d)}`, src, d.at);
        }
        return { type: 'ref', name: t.v, at: t.at };
      }
      case 'op':
        if (t.v === '(') {
          const e = expr(0);
          expect(')');
          return e;
        }
        if (t.v === '-' || t.v === '!') return { type: 'unary', op: t.v, arg: expr(7), at: t.at };
        if (t.v === '+') return expr(7);
        if (t.v === '[') return { type: 'list', items: items(']'), at: t.at };
        throw new ExprSyntaxError(`unexpected ${describe(t)}`, src, t.at);
      case 'eof':
        throw new ExprSyntaxError('unexpected end of input', src, t.at);
    }
  };

  const root = expr(0);
  const rest = peek();
  if (rest.t !== 'eof') throw new ExprSyntaxError(`unexpected ${describe(rest)} after the expression`, src, rest.at);
  return root;
}
