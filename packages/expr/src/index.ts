/** @probemesh/expr — one small, safe expression language for filters, transforms, formulas and decisions. */
export { compile, type CompileOptions, type Context, type Env, type Expression, type Ref, type Result, type WindowFn } from './compile.js';
export { parse, LIMITS, type Node } from './parse.js';
export { compilePattern, PATTERN_LIMITS, type Pattern, type PatternOptions } from './pattern.js';
export { ExprSyntaxError, ExprCheckError, ExprEvalError, type Position } from './errors.js';
export { examples } from './examples.js';
