import t from 'tap';
import { check, Rule } from '@probemesh/model';
import { NotFoundError, NotNumericError, ProbemeshError, StoreUnavailableError, UnprocessableError, ValidationError, errors } from './index.js';

t.test('errors — one hierarchy: every class is a ProbemeshError with its own name', async (t) => {
  const names = new Set<string>();
  const args: Partial<Record<keyof typeof errors, unknown[]>> = { ValidationError: ['rule', []], NotFoundError: ['rule', 'r1'], NotNumericError: [['status'], 'mean'] };
  for (const [key, Class] of Object.entries(errors)) {
    const e = Reflect.construct(Class, args[key as keyof typeof errors] ?? ['x']) as Error;
    t.ok(e instanceof ProbemeshError, `${key} extends ProbemeshError`);
    t.equal(e.name, key, `${key} is named after its class`);
    names.add(e.name);
  }
  t.equal(names.size, Object.keys(errors).length, 'no two kinds share a name');
});

t.test('errors — kinds are told apart with instanceof, causes are kept, retryable says whether to retry', async (t) => {
  const disk = new Error('MDB_MAP_FULL');
  const full = new StoreUnavailableError('the store is full', { cause: disk });
  t.equal(full.cause, disk);
  t.ok(full.retryable);
  t.notOk(new NotFoundError('rule', 'r1').retryable);
  t.equal(new NotFoundError('rule', 'r1').message, "rule 'r1' does not exist");
  const text = new NotNumericError(['status'], 'mean');
  t.ok(text instanceof UnprocessableError, 'a text range for a numeric mode is unprocessable input');
  const bad = t.throws(() => check(Rule, { id: 'r', indicators: [], period: '1s' }, 'rule'));
  t.ok(bad instanceof ValidationError && bad instanceof ProbemeshError, "model's ValidationError is in the hierarchy");
});
