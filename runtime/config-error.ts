// The error of a program's configuration (flags, the files they name, the kubeconfig): the program prints its
// message, one line naming the option, rather than a stack trace.
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What is wrong with a file an option names, from the error of reading it. */
export function unreadable(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${path} does not exist`;
  if (code === 'EISDIR') return `${path} is a directory, not a file`;
  return `cannot read ${path}: ${(error as Error).message}`;
}
