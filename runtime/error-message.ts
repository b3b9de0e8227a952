// The text of a caught value for a log line or a status: an Error's message, else the value itself (code may
// throw anything).
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
