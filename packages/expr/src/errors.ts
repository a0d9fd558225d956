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

/** An error at a place in the source; the message ends with line:column. */
abstract class PositionedError extends Error {
  readonly pos: Position;
  /** The message without its position. */
  readonly reason: string;
  constructor(message: string, src: string, offset: number) {
    const pos = positionOf(src, offset);
    super(`${message} at ${pos.line}:${pos.column}`);
    this.pos = pos;
    this.reason = message;
  }
}

/** Text that does not parse. */
export class ExprSyntaxError extends PositionedError {
  override name = 'ExprSyntaxError';
}

/** Text that parses but cannot be used: an unknown function or indicator, a wrong arity, a bad window. */
export class ExprCheckError extends PositionedError {
  override name = 'ExprCheckError';
}

/** A run-time failure of an expression (division by zero, a string where a number is needed). */
export class ExprEvalError extends Error {
  override name = 'ExprEvalError';
}
