import t from 'tap';
import { evaluate, parsePath, PathMiss, PATH_PATTERN } from './jsonpath.js';

const doc = { a: { b: [{ c: 1 }, { c: 2 }] }, 'odd key': { x: 'y' }, m: { p: 1, q: 2 } };
const values = (path: string) => evaluate(doc, parsePath(path)).map((m) => m.value);

t.test('jsonpath — the subset reads fields, indexes, quoted keys and wildcards', async (t) => {
  t.same(values('$'), [doc]);
  t.same(values('$.a.b[0].c'), [1]);
  t.same(values('$.a.b[-1].c'), [2]);
  t.same(values("$['odd key'].x"), ['y']);
  t.same(values('$["odd key"]["x"]'), ['y']);
  t.same(values('$.a.b[*].c'), [1, 2]);
  t.same(values('$.m.*'), [1, 2]);
  t.same(evaluate(doc, parsePath('$.m.*')).map((m) => m.keys), [['p'], ['q']]);
});

t.test('jsonpath — bad paths are refused, by the parser and the schema pattern alike', async (t) => {
  const re = new RegExp(PATH_PATTERN);
  for (const bad of ['a.b', '$..a', '$.a[?(@.x)]', '$.a[', '$[1:2]', '$.a b']) {
    t.throws(() => parsePath(bad), `parser refuses ${bad}`);
    t.notOk(re.test(bad), `pattern refuses ${bad}`);
  }
  for (const good of ['$', '$.a.b[0].c', '$.items[*].value', "$['k']", '$.m.*', '$.a[-1]']) t.ok(re.test(good), `pattern takes ${good}`);
});

t.test('jsonpath — a miss names the step; prototypes are not reachable', async (t) => {
  t.throws(() => values('$.a.x'), PathMiss);
  t.throws(() => values('$.a.b[5]'), /\$\.a\.b is an array of 2/);
  t.throws(() => values('$.constructor'), PathMiss, 'no inherited properties');
  t.throws(() => values('$.__proto__'), PathMiss);
  t.same(values('$.a.b[*].x'), [], 'a wildcard over rows without the field gives nothing');
  t.throws(() => evaluate({ xs: Array.from({ length: 20 }, (_, i) => i) }, parsePath('$.xs[*]'), 10), /more than 10/);
});
