import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { generatedPath, renderApiTypes } from '../../hack/generate-api-types.ts';

describe('generated API types', () => {
  it('are up to date with the CRD (run npm run generate after changing crds/)', async () => {
    expect(await readFile(generatedPath, 'utf8')).toBe(await renderApiTypes());
  });
});
