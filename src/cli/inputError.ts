/**
 * Input that cannot be used as given (a file's content, not its absence): main prints it and
 * exits with 2, as for a usage error, without the usage.
 */
export class InputError extends Error {
  override name = 'InputError';
}
