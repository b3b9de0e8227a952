// The image installs its packages from its own lock (deploy/image/package-lock.json, which
// hack/update-image-lock.sh writes): the versions it runs must be the ones the tests run, the repository's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

interface Lock {
  packages: Record<string, { version?: string; dev?: boolean }>;
}

const lock = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as Lock;
const image = lock('./package-lock.json');
const repository = lock('../../package-lock.json');

describe('deploy/image/package-lock.json', () => {
  it('has every package at the place and version of the repository lock', () => {
    const differing = Object.entries(image.packages)
      .filter(([path]) => path !== '')
      .filter(([path, entry]) => repository.packages[path]?.version !== entry.version)
      .map(
        ([path, entry]) =>
          `${path}@${entry.version ?? '?'} (repository: ${repository.packages[path]?.version ?? 'none'})`,
      );
    expect({ differing, fix: 'bash hack/update-image-lock.sh' }).toEqual({
      differing: [],
      fix: 'bash hack/update-image-lock.sh',
    });
  });
});
