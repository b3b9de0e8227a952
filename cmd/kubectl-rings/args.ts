// The command line of kubectl-rings, parsed as kubectl parses its own: flags before, between or after the
// arguments, `-o json` or `-ojson` or `--output=json`, and usage errors worded as kubectl words them.
import { parseArgs } from 'node:util';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Invocation {
  command: 'get' | 'describe' | 'help';
  /** The rings named: any number for get (none: all), exactly one for describe. */
  names: string[];
  output: OutputFormat;
  kubeconfig?: string;
  context?: string;
}

/** A command line kubectl-rings cannot run: printed with a pointer to --help, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const usage = `kubectl rings: the ControllerRings of a cluster and the state of their shards.

Usage:
  kubectl rings get [RING...] [flags]    list rings: readiness, available and total shards, age
  kubectl rings describe RING [flags]    a ring's shards (state, Lease age and renewal) and the objects
                                         each owns per resource, with those unassigned and draining

Flags:
  -o, --output json|yaml   print as JSON or YAML instead of a table
      --kubeconfig PATH    the kubeconfig file (else $KUBECONFIG's files, else ~/.kube/config)
      --context NAME       the kubeconfig context to use instead of its current-context
  -h, --help               print this help
`;

const options = {
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const formats: readonly string[] = ['json', 'yaml'];

/** parseArgs' message, as kubectl (cobra) would say it. */
function usageError(error: Error & { code?: string }): UsageError {
  const named = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  // parseArgs names an option by all its spellings ("-o, --output <value>"): kubectl names the long one.
  const flag = named.split(/[ ,]+/).find((part) => part.startsWith('--')) ?? named;
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag: ${named}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(
        /does not take an argument/.test(error.message)
          ? `flag does not take an argument: ${flag}`
          : `flag needs an argument: ${flag}`,
      );
    default:
      return new UsageError(error.message);
  }
}

/** Parses the arguments after the program's name; throws UsageError for what kubectl would refuse. */
export function parseArguments(argv: readonly string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(error as Error);
  }
  const { values, positionals } = parsed;
  const [command, ...names] = positionals;
  const output = values.output ?? 'table';
  if (output !== 'table' && !formats.includes(output)) {
    throw new UsageError(
      `unable to match a printer suitable for the output format "${output}", allowed formats are: ${formats.join(',')}`,
    );
  }
  const common = {
    output: output as OutputFormat,
    ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
  };
  if (values.help === true || command === undefined || command === 'help')
    return { command: 'help', names: [], ...common };
  if (command === 'get') return { command, names, ...common };
  if (command === 'describe') {
    if (names.length !== 1)
      throw new UsageError(
        names.length === 0 ? 'describe needs the name of a ring' : 'describe takes one ring',
      );
    return { command, names, ...common };
  }
  throw new UsageError(`unknown command "${command}" for "kubectl rings"`);
}
