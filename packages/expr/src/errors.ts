/** Where in the source an error is. */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

export function positionOf(src: string, offset: number): Position {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src[i] === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { offset, line, column };
}

/** Text that does not parse. */
export class ExprSyntaxError extends Error {
  override name = 'ExprSyntaxError';
  readonly pos: Position;
  constructor(message: string, src: string, offset: number) {
    const pos = positionOf(src, offset);
    super(`${message} at ${pos.line}:${pos.column}`);
    this.pos = pos;
  }
}

/** Text that parses but cannot be used: an unknown function or indicator, a wrong arity, a bad window. */
export class ExprCheckError extends Error {
  override name = 'ExprCheckError';
  readonly pos: Position;
  constructor(message: string, src: string, offset: number) {
    const pos = positionOf(src, offset);
    super(`${message} at ${pos.line}:${pos.column}`);
    this.pos = pos;
  }
}

/** A run-time failure of an expression (division by zero, a string where a number is needed). */
export class ExprEvalError extends Error {
  override name = 'ExprEvalError';
}
