import { z } from 'zod';

/**
 * Value parsers every config slice shares (app/config.ts composes the slices). Environment
 * variables and flags are strings, so numbers and lists are parsed from strings here, once.
 */

/**
 * An integer in [min, max], from a number or a string of decimal digits. z.coerce.number()
 * alone took '', ' ', null, true and [8080] as 0, 1 and 8080: a blank SWITCHYARD_PORT silently
 * listened on a random port.
 */
export const configInt = (min: number, max: number) =>
  z.preprocess((value) => (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value), z.number().int().min(min).max(max));

/** A list of strings, from an array or a comma-separated string (blank items dropped). */
export const configList = z.union([
  z.array(z.string()),
  z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
]);
