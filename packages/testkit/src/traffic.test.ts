import t from 'tap';
import { dayProfile } from './index.js';

t.test('traffic — the day profile: a fifth of the peak at night, rising from 7:00 to the peak at 14:00, back down by 21:00', async (t) => {
  t.same([0, 3, 6.9, 21.5, 23.9].map(dayProfile), [0.2, 0.2, 0.2, 0.2, 0.2], 'night');
  t.equal(dayProfile(14), 1, 'the peak');
  t.equal(dayProfile(14 + 24), 1, 'every day alike');
  const morning = [7, 8, 10, 12, 14].map(dayProfile);
  t.ok(morning.every((v, i) => i === 0 || v > morning[i - 1]!), `rising through the morning: ${morning.map((v) => v.toFixed(2)).join(' ')}`);
  t.ok(Math.abs(dayProfile(10.5) - dayProfile(17.5)) < 1e-12, 'afternoon mirrors morning');
});
