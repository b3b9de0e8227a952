// Where the sharder serves each ring's admission webhook. The webhook configuration the sharder keeps per ring
// points here, so both sides take the path from this module.

const prefix = '/webhooks/sharder/controllerring/';

// A ring's name is used in label keys, so it is a DNS-1123 label (design.md, "Parts").
const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The path of `ring`'s admission webhook on the sharder's webhook server. */
export function webhookPath(ring: string): string {
  return `${prefix}${ring}`;
}

/** The ring whose webhook `pathname` is, or undefined when it is no ring's webhook path. */
export function ringOfPath(pathname: string): string | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  const ring = pathname.slice(prefix.length);
  return dns1123Label.test(ring) ? ring : undefined;
}
