import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: one line on stderr pointing to `ferry help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Flags every client command takes. */
export const SERVER_FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with its errors as usage errors (exit code 2), prefixed by the command. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

/** A whole number flag within bounds. */
export function integerFlag(command: string, name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`${command}: --${name} takes a whole number from ${min} to ${max}`);
  return value;
}

/** Bytes with an optional K, M or G (binary) suffix: `64K`, `8M`. */
export function sizeFlag(command: string, name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^(\d+)([KMG]?)(i?B)?$/i.exec(raw.trim());
  if (!match) throw new UsageError(`${command}: --${name} takes bytes, e.g. 8M`);
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * scale;
}
