import { describe, expect, it } from '@jest/globals';
import { Probes } from './probes.ts';

describe('Probes', () => {
  it('reports every check in the order added, with the reason of each failure', async () => {
    const probes = new Probes();
    probes.addReadinessCheck('synced', () => true);
    probes.addReadinessCheck('leader', () => Promise.resolve(false));
    probes.addReadinessCheck('lease', () => {
      throw new Error('lease not renewed for 20s');
    });
    probes.addReadinessCheck('webhook', () => Promise.reject(new Error('certificate not loaded')));
    probes.addReadinessCheck('cache', () => Promise.resolve(true));

    expect(await probes.check('readyz')).toEqual([
      { name: 'synced', failure: undefined },
      { name: 'leader', failure: 'check returned false' },
      { name: 'lease', failure: 'lease not renewed for 20s' },
      { name: 'webhook', failure: 'certificate not loaded' },
      { name: 'cache', failure: undefined },
    ]);
  });

  it('keeps health and readiness checks apart', async () => {
    const probes = new Probes();
    probes.addHealthCheck('ping', () => true);
    probes.addReadinessCheck('synced', () => false);
    expect(await probes.check('healthz')).toEqual([{ name: 'ping', failure: undefined }]);
    expect(await probes.check('readyz')).toEqual([{ name: 'synced', failure: 'check returned false' }]);
  });

  it('refuses a second check of the same name for the same probe', () => {
    const probes = new Probes();
    probes.addHealthCheck('ping', () => true);
    probes.addReadinessCheck('ping', () => true);
    expect(() => {
      probes.addHealthCheck('ping', () => true);
    }).toThrow('healthz check "ping" is already added');
  });
});
