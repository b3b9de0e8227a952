import type { ControlPlane } from '../control-plane/control-plane.ts';

declare global {
  // Set by global-setup.ts, read by global-teardown.ts (jest runs both in its main process).
  var controlPlane: ControlPlane | undefined;
}
