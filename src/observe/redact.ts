/**
 * The one place secrets are taken out of text before it is shown: every log line (text and JSON),
 * error, status output, metric and notification goes through here. It knows URLs of any scheme
 * (postgres, http(s), s3, ...): credentials in the user-info part and the values of secret-looking
 * query (or fragment) parameters.
 */

/** Query keys whose values are hidden: any key containing one of these... */
const SECRET_IN_KEY = /token|secret|passw|pwd|signature|credential|auth|api[-_]?key|access[-_]?key|private|session/iu;
/** ...or having one of these as a whole word (`key`, `api_key`, `AccessKeyId`, `sig`; not `monkey`). */
const SECRET_WORDS = new Set(['key', 'sig', 'pass']);

export function isSecretKey(key: string): boolean {
  if (SECRET_IN_KEY.test(key)) return true;
  return key.split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/u).some((word) => SECRET_WORDS.has(word.toLowerCase()));
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/gu, ' '));
  } catch {
    return part;
  }
}

/** `a=1&token=x` -> `a=1&token=***`: other keys and values are kept exactly as written. */
function redactParams(params: string): string {
  return params
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq !== -1 && isSecretKey(decodeQueryPart(part.slice(0, eq))) ? `${part.slice(0, eq)}=***` : part;
    })
    .join('&');
}

/**
 * The URL as it may be shown (labels, load history): no user or password, no fragment, and the
 * values of secret-looking query keys replaced by `***`.
 */
export function redactUrl(location: string | URL): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    // Not a URL: show nothing of it but its scheme, since it may still hold a secret.
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*:)/u.exec(String(location))?.[1];
    return scheme ? `${scheme}//(not a valid URL)` : '(not a valid URL)';
  }
  const query = redactParams(
    url.search
      .slice(1)
      .split('&')
      .filter((part) => part !== '')
      .join('&'),
  );
  const host = url.host === '' ? '' : `//${url.host}`;
  return `${url.protocol}${host}${url.pathname}${query === '' ? '' : `?${query}`}`;
}

/** A URL of any scheme inside free text, up to whitespace, a quote or a bracket. */
const URL_IN_TEXT = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s"'<>`]*)/gu;
/** A role name without a password is not a secret in a connection URL; elsewhere a lone user is often a token. */
const ROLE_SCHEMES = /^postgres(ql)?:\/\/$/iu;

function redactUrlInText(scheme: string, rest: string): string {
  const authorityEnd = rest.search(/[/?#]/u);
  let authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  let tail = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon !== -1 ? `${userinfo.slice(0, colon)}:***` : ROLE_SCHEMES.test(scheme) ? userinfo : '***';
    authority = `${shown}${authority.slice(at)}`;
  }
  tail = tail.replace(/([?#;])([^#\s]*)/gu, (_m, sep: string, params: string) => `${sep}${redactParams(params)}`);
  return `${scheme}${authority}${tail}`;
}

/**
 * Text as it may be shown: in every URL, the password (or a lone user outside postgres URLs) becomes
 * `***`, as do secret-looking query and fragment values; any of `extraSecrets` (3+ characters) too.
 */
export function redactSecrets(text: string, extraSecrets: readonly string[] = []): string {
  let out = text.replace(URL_IN_TEXT, (_m, scheme: string, rest: string) => redactUrlInText(scheme, rest));
  for (const secret of extraSecrets) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}
