// @ts-check
// libpq's connection URLs, as the bootstrap reads DATABASE_URL / POSTGRES_URL:
// scheme://[user[:password]@][host[:port][,host[:port]...]][/database][?query]. By hand rather
// than WHATWG URL (or pg-connection-string, which is built on it): both refuse libpq's multi-host
// form. Errors never echo the URL, which may hold a password.

const URL_SHAPE = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/

/**
 * The parts of a connection URL the bootstrap uses: the first host and its port, the login, the
 * database (each from the URL's body, else its query), and the whole query.
 * @typedef {object} ConnectionUrl
 * @property {string | undefined} user
 * @property {string | undefined} password
 * @property {string | undefined} host
 * @property {number | undefined} port
 * @property {string | undefined} database
 * @property {URLSearchParams} params
 */

/**
 * Parses `text`, the value of the environment variable `variable` (named in errors).
 * @param {string} text
 * @param {string} variable
 * @returns {ConnectionUrl}
 */
export function parseConnectionUrl(text, variable) {
  const found = URL_SHAPE.exec(text)
  /** @param {string} what */
  const invalid = (what) =>
    new Error(
      `${variable} ${what} (postgres://user:password@host:port/database?sslmode=...; percent-encode any @ : / ? # % in the user name or password)`,
    )
  if (found === null)
    throw invalid(
      /^postgres(ql)?:\/\//.test(text) ? 'is not a valid URL' : 'must be a postgres:// or postgresql:// URL',
    )
  const [, , userinfo = '', hosts, pathPart = '', query = ''] = found
  /**
   * @param {string} part
   * @param {string} what
   */
  const decode = (part, what) => {
    try {
      return decodeURIComponent(part)
    } catch {
      throw invalid(`has a malformed percent-escape in its ${what}`)
    }
  }
  const colon = userinfo.indexOf(':')
  const first = hosts.split(',')[0]
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(first)
  if (hostPort === null) throw invalid('has a malformed host')
  if (hostPort[2] !== undefined && hostPort[2] !== '' && !(Number(hostPort[2]) >= 1 && Number(hostPort[2]) <= 65535)) {
    throw invalid('has a port that is not a number from 1 to 65535')
  }
  const params = new URLSearchParams(query.slice(1))
  return {
    user: decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name') || params.get('user') || undefined,
    password: colon === -1 ? (params.get('password') ?? undefined) : decode(userinfo.slice(colon + 1), 'password'),
    host: decode(hostPort[1], 'host').replace(/^\[(.*)\]$/, '$1') || params.get('host') || undefined,
    port: Number(hostPort[2] || params.get('port') || 0) || undefined,
    database: decode(pathPart.slice(1), 'database name') || params.get('dbname') || undefined,
    params,
  }
}

/**
 * `url` naming `database` instead of its own, everything else (userinfo, hosts, query) as it was.
 * @param {string} url
 * @param {string} database
 * @returns {string}
 */
export function withDatabase(url, database) {
  const found = URL_SHAPE.exec(url)
  if (found === null) throw new Error('not a postgres:// URL')
  const [, scheme, userinfo, hosts, , query = ''] = found
  const params = new URLSearchParams(query.slice(1))
  let rest = query
  if (params.has('dbname')) {
    params.set('dbname', database)
    rest = `?${params.toString()}`
  }
  return `${scheme}://${userinfo === undefined ? '' : `${userinfo}@`}${hosts}/${encodeURIComponent(database)}${rest}`
}
