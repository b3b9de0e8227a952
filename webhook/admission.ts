// The AdmissionReview v1 wire format (admission.k8s.io/v1), as much of it as a mutating webhook reads and
// writes. kubernetes-models has no types for it: reviews are exchanged with webhooks, never stored.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { IStatus } from '@kubernetes-models/apimachinery/apis/meta/v1/Status';
import type { JsonPatchOperation } from '../sharding/patches.ts';
import { pick, type Shape } from '../runtime/json-pick.ts';
import { assignmentMetadata, objectOfScalars, scalar } from '../runtime/metadata-shape.ts';

const apiVersion = 'admission.k8s.io/v1';
const kind = 'AdmissionReview';

export interface AdmissionRequest {
  uid: string;
  /** The object's group (empty for the core group), version and Kind. */
  kind: { group: string; version: string; kind: string };
  /** The resource the webhook's rule matched. */
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  /** The object as it will be stored; absent for DELETE and CONNECT. */
  object?: { metadata?: IObjectMeta };
  /** The object as it was stored, for UPDATE. */
  oldObject?: { metadata?: IObjectMeta };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: IStatus;
  patchType?: 'JSONPatch';
  /** The base64-encoded JSON Patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: typeof apiVersion;
  kind: typeof kind;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** A request body decoded, or why it could not be, with the request's uid if it has one. */
export type DecodedReview =
  { readonly request: AdmissionRequest } | { readonly error: string; readonly uid: string | undefined };

const operations: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

// What the webhook reads of a review (assign.ts, sharding/keys.ts): the request's uid, operation, kind,
// resource and names, and the objects' metadata used for the hash key and the shard label. The rest (spec,
// data, managedFields: nearly all of a large object) is checked as JSON but never built (runtime/json-pick.ts).
const reviewShape: Shape = {
  members: {
    apiVersion: scalar,
    kind: scalar,
    request: {
      members: {
        uid: scalar,
        kind: objectOfScalars,
        resource: objectOfScalars,
        subResource: scalar,
        name: scalar,
        namespace: scalar,
        operation: scalar,
        object: {
          members: {
            metadata: { members: assignmentMetadata },
          },
        },
        oldObject: { members: { metadata: { members: { labels: objectOfScalars } } } },
      },
    },
  },
};

/**
 * Decodes an AdmissionReview v1 request body, checking the fields a webhook relies on. Only those are built:
 * the objects come as far as their metadata.
 */
export function decodeReview(body: Uint8Array): DecodedReview {
  const picked = pick(body, reviewShape);
  if ('error' in picked) return { error: `the request body is not JSON: ${picked.error}`, uid: undefined };
  const review = picked.value;
  if (!isRecord(review) || review.apiVersion !== apiVersion || review.kind !== kind) {
    return { error: `the request body is not an ${kind} ${apiVersion}`, uid: undefined };
  }
  const request = review.request;
  if (!isRecord(request) || typeof request.uid !== 'string' || request.uid === '') {
    return { error: `the ${kind} has no request.uid`, uid: undefined };
  }
  const problem = requestProblem(request);
  if (problem !== undefined) return { error: `the ${kind}'s request ${problem}`, uid: request.uid };
  return { request: request as unknown as AdmissionRequest };
}

function requestProblem(request: Record<string, unknown>): string | undefined {
  if (typeof request.operation !== 'string' || !operations.has(request.operation)) {
    return 'has no valid operation';
  }
  if (!isRecord(request.kind) || !hasStrings(request.kind, 'group', 'version', 'kind')) {
    return 'has no valid kind';
  }
  if (!isRecord(request.resource) || !hasStrings(request.resource, 'group', 'version', 'resource')) {
    return 'has no valid resource';
  }
  for (const field of ['subResource', 'name', 'namespace']) {
    if (request[field] !== undefined && typeof request[field] !== 'string') return `has an invalid ${field}`;
  }
  return objectProblem('object', request.object) ?? objectProblem('oldObject', request.oldObject);
}

function objectProblem(field: 'object' | 'oldObject', object: unknown): string | undefined {
  if (object === undefined || object === null) return undefined;
  if (!isRecord(object)) return `has an ${field} that is not a JSON object`;
  const metadata = object.metadata;
  if (metadata === undefined) return undefined;
  if (!isRecord(metadata)) return `has an ${field} whose metadata is not a JSON object`;
  const labels = metadata.labels;
  if (
    labels !== undefined &&
    labels !== null &&
    !(isRecord(labels) && Object.values(labels).every(isString))
  ) {
    return `has an ${field} whose labels are not a JSON object of strings`;
  }
  const owners = metadata.ownerReferences;
  if (owners !== undefined && owners !== null && !(Array.isArray(owners) && owners.every(isRecord))) {
    return `has an ${field} whose ownerReferences are not a JSON array of objects`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function hasStrings(value: Record<string, unknown>, ...fields: string[]): boolean {
  return fields.every((field) => typeof value[field] === 'string');
}

/** The review answering a request with `response`. */
export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion, kind, response };
}

/** A JSON Patch as an admission response carries it: its JSON, base64-encoded. */
export function encodePatch(patch: readonly JsonPatchOperation[]): string {
  return Buffer.from(JSON.stringify(patch)).toString('base64');
}

/**
 * Admits a request, changed by `patch` if given (encoded by encodePatch), with warnings for the user (shown by
 * kubectl).
 */
export function allow(
  uid: string,
  { patch, warnings = [] }: { patch?: string; warnings?: readonly string[] } = {},
): AdmissionResponse {
  return {
    uid,
    allowed: true,
    ...(patch === undefined ? {} : { patchType: 'JSONPatch', patch }),
    ...(warnings.length === 0 ? {} : { warnings: [...warnings] }),
  };
}

/** The response to a request that could not be decoded. */
export function badRequestResponse(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: badRequestStatus(message) };
}

/** A Status with code 400: the API server's webhook client shows its message in its error. */
export function badRequestStatus(message: string): IStatus {
  return failureStatus(400, 'BadRequest', message);
}

export function failureStatus(code: number, reason: string, message: string): IStatus {
  return { apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message };
}
