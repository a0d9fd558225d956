import { Type, type Static } from '@sinclair/typebox';
import { Datum, Id, Timestamp } from './common.js';

/** An instance inside a device: an interface index, a disk, a table row. */
export const Instance = Type.String({ maxLength: 128, description: 'row of a table (ifIndex, disk …); empty for scalar readings' });

/** A value (V): datum, ts, indicator, device, rule; `incomplete` when it lacks part of what it stands for. */
export const Value = Type.Object(
  {
    indicator: Id,
    device: Type.Optional(Id),
    instance: Type.Optional(Instance),
    rule: Type.Optional(Id),
    ts: Timestamp,
    datum: Datum,
    incomplete: Type.Optional(
      Type.Literal(true, { description: 'computed without part of its inputs: a merged window without a child that is gone or too late, or a formula over such a value (absent when complete)' }),
    ),
  },
  { additionalProperties: false },
);
export type Value = Static<typeof Value>;
