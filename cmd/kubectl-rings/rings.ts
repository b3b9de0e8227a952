// The ControllerRings the commands read, as the API server sends them (raw JSON).
import { ringsPath, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { listPages } from '../../runtime/pager.ts';
import type { RestClient } from '../../runtime/rest.ts';

export function getRing(rest: RestClient, name: string): Promise<ControllerRing> {
  return rest.request<ControllerRing>({ path: `${ringsPath}/${encodeURIComponent(name)}` });
}

/** Every ring, a page at a time. */
export async function listRings(rest: RestClient): Promise<ControllerRing[]> {
  const rings: ControllerRing[] = [];
  for await (const page of listPages<ControllerRing>(rest, ringsPath)) rings.push(...(page.items ?? []));
  return rings;
}
