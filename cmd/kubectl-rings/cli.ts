// kubectl-rings' commands, with kubectl's conventions for what goes wrong: one line on stderr (`error: ...`,
// `Error from server (NotFound): ...` with the API server's own message, `Unable to connect to the server:
// ...`) and exit code 1.
import { ConfigError } from '../../runtime/config-error.ts';
import { errorMessage } from '../../runtime/error-message.ts';
import { ApiError } from '../../runtime/rest.ts';
import { parseArguments, usage, UsageError } from './args.ts';
import { connect } from './cluster.ts';
import { describeRing } from './describe.ts';
import { describeText } from './describe-printing.ts';
import { getRings, printRings } from './get.ts';
import { formatted } from './printing.ts';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  now: () => Date;
}

/** An error as kubectl prints it. */
export function errorLine(error: unknown): string {
  if (error instanceof UsageError) return `error: ${error.message}\nSee 'kubectl rings --help' for usage.`;
  if (error instanceof ApiError) {
    if (error.code === 0) return `Unable to connect to the server: ${error.detail}`;
    return `Error from server${error.reason ? ` (${error.reason})` : ''}: ${error.detail}`;
  }
  if (error instanceof ConfigError) return `error: ${error.message}`;
  return `error: ${errorMessage(error)}`;
}

/** Runs one command line (the arguments after the program's name); resolves to the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  try {
    const invocation = parseArguments(argv);
    if (invocation.command === 'help') {
      io.stdout(usage);
      return 0;
    }
    const rest = await connect(invocation, io.env);
    const now = io.now();
    try {
      if (invocation.command === 'describe') {
        const description = await describeRing(rest, invocation.names[0] ?? '', now);
        io.stdout(
          invocation.output === 'table'
            ? describeText(description, now)
            : formatted(description, invocation.output),
        );
        return 0;
      }
      const { rings, errors } = await getRings(rest, invocation.names);
      io.stdout(printRings(rings, invocation.names, invocation.output, now));
      if (rings.length === 0 && errors.length === 0 && invocation.output === 'table')
        io.stderr('No resources found\n');
      for (const error of errors) io.stderr(`${errorLine(error)}\n`);
      return errors.length === 0 ? 0 : 1;
    } finally {
      rest.close();
    }
  } catch (error) {
    io.stderr(`${errorLine(error)}\n`);
    return 1;
  }
}
