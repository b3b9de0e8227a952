// Generated manifests (config/) on a test API server: read them, and apply or remove them object by object.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { isNotFound, patchTypes, type RestClient } from '../../runtime/rest.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The objects of a file under config/, e.g. sharder/sharder.yaml. */
export function manifests(file: string): KubeObject[] {
  const text = readFileSync(new URL(`../../config/${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((document) => document.toJS() as KubeObject);
}

/** The object's path; the plural of every kind in config/ is <kind>s, or <kind>ies for a kind in -y (policies). */
export function objectPath({ apiVersion, kind, metadata }: KubeObject): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const scope = metadata.namespace === undefined ? '' : `/namespaces/${metadata.namespace}`;
  return `${base}${scope}/${kind.toLowerCase().replace(/y$/, 'ie')}s/${metadata.name}`;
}

/** Server-side apply, as kubectl apply --server-side does. */
export function apply(
  rest: RestClient,
  object: KubeObject,
  options: { dryRun?: boolean } = {},
): Promise<KubeObject> {
  return rest.request({
    method: 'PATCH',
    path: objectPath(object),
    query: {
      fieldManager: 'controller-rings-tests',
      force: true,
      dryRun: options.dryRun === true ? 'All' : undefined,
    },
    contentType: patchTypes.apply,
    body: object,
  });
}

export async function remove(rest: RestClient, object: KubeObject): Promise<void> {
  try {
    await rest.request({ method: 'DELETE', path: objectPath(object) });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
