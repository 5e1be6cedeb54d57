/** A command line that cannot run as given; main prints it and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
