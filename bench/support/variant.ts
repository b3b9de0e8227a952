// A benchmark's variant of the sharder: a checkout, and runtime settings on top of those its Deployment sets.
export interface Variant {
  label: string;
  /** A git ref; `.` is this checkout. */
  ref: string;
  /** Node flags, after the Deployment's NODE_OPTIONS (V8 takes the last of a repeated flag). */
  nodeArgs: string[];
  /** Environment variables over the Deployment's, e.g. glibc's MALLOC_ARENA_MAX. */
  env: Record<string, string>;
}

/**
 * `label=ref[,setting...]`, a setting being a node flag (`--max-opt=2`) or an environment variable
 * (`MALLOC_ARENA_MAX=2`): e.g. `arena2=.,--max-semi-space-size=4,MALLOC_ARENA_MAX=2`.
 */
export function parseVariant(spec: string): Variant {
  const [label, rest = '.'] = spec.split(/=(.*)/s);
  if (label === undefined || label === '')
    throw new Error(`--variant ${spec}: expected label=ref[,setting...]`);
  const [ref = '.', ...settings] = rest.split(',');
  const variant: Variant = { label, ref, nodeArgs: [], env: {} };
  for (const setting of settings) {
    const variable = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(setting);
    if (setting.startsWith('-')) variant.nodeArgs.push(setting);
    else if (variable?.[1] !== undefined) variant.env[variable[1]] = variable[2] ?? '';
    else throw new Error(`--variant ${spec}: ${setting} is neither a node flag nor NAME=value`);
  }
  return variant;
}
