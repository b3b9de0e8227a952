// The translation of a Deployment's pod into podman's arguments, on the sharder's pod in config/: the image's
// end-to-end test runs what this produces, so a rule it gets wrong would pass there unnoticed.
import { describe, expect, it } from '@jest/globals';
import { sharderPod } from './image-pods.ts';
import { expandReferences, podmanRunArgs } from './pod-container.ts';

describe('podmanRunArgs', () => {
  const { pod, container } = sharderPod();
  const identity = { name: 'sharder-0', namespace: 'system' };
  const args = podmanRunArgs({
    pod,
    container,
    identity,
    image: 'image',
    flags: { 'webhook-service': undefined, 'webhook-url': 'https://127.0.0.1:1', 'sync-period': '10s' },
  });
  const image = args.indexOf('image');

  it('runs the container as the kubelet would: user, groups, read-only root, env from the downward API', () => {
    expect(args.slice(0, image)).toEqual(
      expect.arrayContaining([
        '--user=65532:65532',
        '--group-add=65532',
        '--read-only',
        '--read-only-tmpfs=false',
        '--cap-drop=ALL',
        '--security-opt=no-new-privileges',
        `--memory=${512 * 2 ** 20}`,
        '--env=POD_NAMESPACE=system',
        '--env=POD_NAME=sharder-0',
        '--env=NODE_OPTIONS=--max-semi-space-size=1 --max-old-space-size=307',
        '--stop-timeout=30',
        '--entrypoint=["node","--max-opt=2","/app/cmd/sharder/main.js"]',
      ]),
    );
  });

  it('mounts nothing: the default Deployment keeps its webhook certificate in a Secret the sharder manages', () => {
    expect(args.filter((arg) => arg.startsWith('--volume'))).toEqual([]);
  });

  it("passes the Deployment's args with $(VAR) expanded, the test's flags replacing or adding", () => {
    const passed = args.slice(image + 1);
    expect(passed).toEqual(
      expect.arrayContaining(['--namespace=system', '--identity=sharder-0', '--sync-period=10s']),
    );
    expect(passed.filter((arg) => arg.startsWith('--webhook-service'))).toEqual([]);
    expect(passed.filter((arg) => arg.startsWith('--webhook-url'))).toEqual([
      '--webhook-url=https://127.0.0.1:1',
    ]);
    expect(passed.length).toBe((container.args?.length ?? 0) + 1);
  });

  it('fails on a downward API field it does not fill in, rather than pass an empty value', () => {
    const env = [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }];
    expect(() => podmanRunArgs({ pod, container: { ...container, env }, identity, image: 'i' })).toThrow(
      'spec.nodeName',
    );
  });
});

describe('expandReferences', () => {
  it("expands the env's variables, leaves unknown ones and unescapes $$, as the kubelet does", () => {
    const env = new Map([['A', 'x']]);
    expect(expandReferences('$(A)-$(B)-$$(A)', env)).toBe('x-$(B)-$(A)');
  });
});
