import { describe, expect, it } from '@jest/globals';
import { parseArguments, UsageError } from './args.ts';

describe('parseArguments', () => {
  it('takes the command, the rings and the flags in any order, in each of their spellings', () => {
    expect(parseArguments(['get'])).toEqual({ command: 'get', names: [], output: 'table' });
    expect(parseArguments(['get', 'a', '-o', 'json', 'b'])).toEqual({
      command: 'get',
      names: ['a', 'b'],
      output: 'json',
    });
    expect(parseArguments(['-oyaml', 'describe', 'a'])).toMatchObject({ output: 'yaml', names: ['a'] });
    expect(
      parseArguments(['describe', '--output=json', 'a', '--kubeconfig', '/k', '--context=other']),
    ).toEqual({
      command: 'describe',
      names: ['a'],
      output: 'json',
      kubeconfig: '/k',
      context: 'other',
    });
  });

  it('asks for help with -h, --help, help or no command, before anything else is checked', () => {
    for (const argv of [['-h'], ['--help'], ['help'], [], ['describe', '--help'], ['nonsense', '-h']])
      expect(parseArguments(argv).command).toBe('help');
  });

  it.each([
    [['get', '--all'], 'unknown flag: --all'],
    [['get', '-x'], 'unknown flag: -x'],
    [['get', '-o'], 'flag needs an argument: --output'],
    [['get', '--kubeconfig'], 'flag needs an argument: --kubeconfig'],
    [['get', '--help=yes'], 'flag does not take an argument: --help'],
    [
      ['get', '-o', 'wide'],
      'unable to match a printer suitable for the output format "wide", allowed formats are: json,yaml',
    ],
    [['describe'], 'describe needs the name of a ring'],
    [['describe', 'a', 'b'], 'describe takes one ring'],
    [['list'], 'unknown command "list" for "kubectl rings"'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseArguments(argv)).toThrow(new UsageError(message));
  });
});
