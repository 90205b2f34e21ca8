/** Secrets never reach logs or errors: every message that may echo a connection string goes through here. */

const URL_WITH_PASSWORD = /(postgres(?:ql)?:\/\/[^:/?#@\s]*:)([^@\s]*)(@)/gi;

/** Replaces the password of every postgres:// URL in the text with ***. */
export function redactSecrets(text: string, extraSecrets: readonly string[] = []): string {
  let out = text.replace(URL_WITH_PASSWORD, '$1***$3');
  for (const secret of extraSecrets) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}
