// ControllerRings and ring objects for sharder tests, in raw JSON through RestClient.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import {
  apiVersion,
  kind,
  ringsPath,
  type ControllerRing,
  type ControllerRingSpec,
} from '../../api/v1alpha1/index.ts';
import { isNotFound, type RestClient } from '../../runtime/rest.ts';

export function createRing(
  rest: RestClient,
  name: string,
  spec: ControllerRingSpec,
): Promise<ControllerRing> {
  return rest.request({
    method: 'POST',
    path: ringsPath,
    body: { apiVersion, kind, metadata: { name }, spec },
  });
}

export async function getRing(rest: RestClient, name: string): Promise<ControllerRing | undefined> {
  try {
    return await rest.request<ControllerRing>({ path: `${ringsPath}/${name}` });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function createNamespace(
  rest: RestClient,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name, labels } } });
}

export interface Labelled {
  metadata: IObjectMeta;
}

/** The objects of a collection, e.g. /api/v1/namespaces/x/configmaps. */
export async function listObjects(rest: RestClient, path: string): Promise<Labelled[]> {
  return (await rest.request<{ items: Labelled[] }>({ path })).items;
}
