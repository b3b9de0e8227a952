// The ControllerRing CRD, embedded unchanged from crds/ (the only source of the API).
import { fileURLToPath } from 'node:url';
import { Include } from 'cdk8s';
import { Construct } from 'constructs';

export const crdFile = fileURLToPath(
  new URL('../crds/sharding.controller-rings.io_controllerrings.yaml', import.meta.url),
);

export class ControllerRingCrd extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new Include(this, 'crd', { url: crdFile });
  }
}
