import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { crdPath } from '../../hack/generate-api-types.ts';
import { defaultShardLeaseNamespaces, drainLabel, maxRingGroupResources, shardLabel } from './constants.ts';

describe('label keys', () => {
  it('put the ring name in the label key name', () => {
    expect(shardLabel('my-ring')).toBe('shard.controller-rings.io/my-ring');
    expect(drainLabel('my-ring')).toBe('drain.controller-rings.io/my-ring');
  });
});

describe('defaults', () => {
  it("trust the shard Lease namespaces of the CRD's default", async () => {
    const crd = parse(await readFile(crdPath, 'utf8')) as {
      spec: { versions: { schema: { openAPIV3Schema: unknown } }[] };
    };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema as {
      properties: { spec: { properties: { shardLeaseNamespaces: { default: unknown } } } };
    };
    expect(schema.properties.spec.properties.shardLeaseNamespaces.default).toEqual(
      defaultShardLeaseNamespaces,
    );
  });

  it("bound a ring's group/resources as the CRD's rule does", async () => {
    const crd = await readFile(crdPath, 'utf8');
    expect(crd).toMatch(new RegExp(`\\.sum\\(\\) <= ${maxRingGroupResources}\\n`));
  });
});
