import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

/**
 * Every setting Ferry has. The only module that reads the environment: everything else is handed
 * a Config.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest upload in bytes; null for no limit. */
  readonly maxUploadSize: number | null;
  /**
   * Bytes one user may hold (library files, counted per file even when the content is stored once,
   * and unfinished uploads by their declared length); null (or 0 in
   * FERRY_QUOTA_BYTES) for no quota. More answers 507.
   */
  readonly quotaBytes: number | null;
  /** Uploads one user may have open at once; null for no limit. More answers 429. */
  readonly maxOpenUploads: number | null;
  readonly uploadExpirySeconds: number;
  readonly expirySweepSeconds: number;
  readonly lockTimeoutMs: number;
  /**
   * How long a Redis lock outlives a node that died holding it (live holders renew it every third
   * of this): the longest a client resuming elsewhere waits after a crash.
   */
  readonly lockTtlMs: number;
  readonly checkpointBytes: number;
  /** Origins allowed cross-origin; ['*'] for any. */
  readonly corsOrigins: readonly string[];
  /** Public base URL for Location headers, when behind a proxy; null to derive from the request. */
  readonly publicUrl: string | null;
  /** `required`: every request but health, metrics, the API document, signup and login needs a token. */
  readonly auth: 'required' | 'none';
  readonly sessionTtlSeconds: number;
  /** Login attempts allowed per client address and per username within `loginWindowSeconds`. */
  readonly loginAttempts: number;
  readonly loginWindowSeconds: number;
  /** Whose content an instant upload may match by proof of possession (a user's own always counts). */
  readonly dedupScope: 'global' | 'tenant' | 'user';
  /**
   * filestore-server's instant upload (/file/fastupload) on the SHA-1 alone from content of others
   * within dedupScope, not only the caller's own. Unsafe: anyone who knows a hash gets the file.
   */
  readonly filestoreTrustClientHashes: boolean;
  /** Chunk size of the native chunk API when the client does not ask for one. */
  readonly defaultChunkSize: number;
  /** Redis for locks shared by several Ferry nodes (redis:// or rediss://); null for in-process locks. */
  readonly redisUrl: string | null;
  /** PostgreSQL for metadata shared by several Ferry nodes (postgres:// or postgresql://); null for SQLite in dataDir. */
  readonly databaseUrl: string | null;
  /** Endpoints that receive webhooks (signed with webhookSecret). */
  readonly webhookUrls: readonly string[];
  /** Signs webhooks and pre-create hook requests; required when either is configured. */
  readonly webhookSecret: string | null;
  /** At most one progress webhook per upload in this many seconds. */
  readonly webhookProgressSeconds: number;
  /** Asked before every upload is created; may refuse it. */
  readonly preCreateHookUrl: string | null;
  /** fuploadServer business servers: their token and the URL their callbacks go to. */
  readonly fuploadClients: Readonly<Record<string, string>>;
  /** Where blobs live: `local` (files under dataDir) or `s3` (an S3 bucket, shared by several nodes). */
  readonly storage: 'local' | 's3';
  /**
   * Local storage writes whole blocks straight to the disk (O_DIRECT) where the filesystem takes
   * that, since flushing the page cache costs the process as much again as filling it did.
   */
  readonly localDirectIo: boolean;
  /** S3 endpoint URL (Ceph RGW, MinIO, OSS, ...); null for AWS's own endpoints. */
  readonly s3Endpoint: string | null;
  readonly s3Bucket: string | null;
  readonly s3AccessKey: string | null;
  readonly s3SecretKey: string | null;
  readonly s3Region: string;
  /** Path-style addressing (endpoint/bucket/key), which Ceph RGW and most self-hosted stores need. */
  readonly s3ForcePathStyle: boolean;
  /**
   * A second store completed blobs move to in the background (`local` or `s3`, not the same as
   * `storage`); null to keep them where they were uploaded. Downloads read wherever a blob is.
   */
  readonly tierStorage: 'local' | 's3' | null;
  /** How long a completed blob stays where it was uploaded before it moves to tierStorage. */
  readonly tierAfterSeconds: number;
  /** RabbitMQ for background jobs shared by several nodes (amqp:// or amqps://); null to run them in-process. */
  readonly amqpUrl: string | null;
  /** Names Ferry's queues on the broker (`<prefix>.<job>`), so several deployments can share a vhost. */
  readonly amqpPrefix: string;
  /** `all`: HTTP and background jobs; `api`: HTTP only (jobs are published); `worker`: jobs, and only health and metrics over HTTP. */
  readonly role: 'all' | 'api' | 'worker';
  /**
   * On SIGTERM, how long requests in flight may go on before streaming bodies are cut (keeping their
   * durable bytes and offsets). An orchestrator's kill deadline must leave room for this.
   */
  readonly shutdownGraceSeconds: number;
  /**
   * IETF draft uploads get `104 Upload Resumption Supported` interim responses. Off behind a proxy
   * that takes a 1xx for the final answer (nginx 1.22 does): the draft makes them optional.
   */
  readonly interimResponses: boolean;
  /** A request's headers must arrive within this (408 after it). */
  readonly headersTimeoutSeconds: number;
  /** A request body that sends nothing for this long while the server waits for it is ended (its bytes so far are kept). */
  readonly idleTimeoutSeconds: number;
  /**
   * Slowest a body may trickle in, averaged over each idleTimeoutSeconds the server spends waiting
   * for it; 0 for no floor. There is no limit on a request's total time: large uploads over bad
   * networks are what Ferry is for.
   */
  readonly minBodyBytesPerSecond: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutSeconds: number;
  /** Largest request head (request line and headers), in bytes; more answers 431. */
  readonly maxHeaderBytes: number;
  /** Requests counted per user and per client address in windows of this length. */
  readonly rateLimitWindowSeconds: number;
  /** Requests one user may make per window; 0 for no limit. */
  readonly rateLimitPerUser: number;
  /** Requests one client address may make per window; 0 for no limit. */
  readonly rateLimitPerAddress: number;
  /** Addresses of proxies whose X-Forwarded-For names the client (exact IPs); empty to use the peer address. */
  readonly trustedProxies: readonly string[];
}

export const DEFAULTS: Config = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  logLevel: 'info',
  maxUploadSize: null,
  quotaBytes: null,
  maxOpenUploads: null,
  uploadExpirySeconds: 24 * 60 * 60,
  expirySweepSeconds: 60,
  lockTimeoutMs: 5_000,
  lockTtlMs: 6_000,
  checkpointBytes: 64 * 1024 * 1024,
  corsOrigins: ['*'],
  publicUrl: null,
  auth: 'required',
  sessionTtlSeconds: 7 * 24 * 60 * 60,
  loginAttempts: 10,
  loginWindowSeconds: 60,
  dedupScope: 'global',
  filestoreTrustClientHashes: false,
  defaultChunkSize: 8 * 1024 * 1024,
  webhookUrls: [],
  webhookSecret: null,
  webhookProgressSeconds: 5,
  preCreateHookUrl: null,
  fuploadClients: {},
  redisUrl: null,
  databaseUrl: null,
  storage: 'local',
  localDirectIo: true,
  s3Endpoint: null,
  s3Bucket: null,
  s3AccessKey: null,
  s3SecretKey: null,
  s3Region: 'us-east-1',
  s3ForcePathStyle: false,
  tierStorage: null,
  tierAfterSeconds: 0,
  amqpUrl: null,
  amqpPrefix: 'ferry',
  role: 'all',
  shutdownGraceSeconds: 25,
  interimResponses: true,
  headersTimeoutSeconds: 30,
  idleTimeoutSeconds: 60,
  minBodyBytesPerSecond: 500,
  keepAliveTimeoutSeconds: 65,
  maxHeaderBytes: 16 * 1024,
  rateLimitWindowSeconds: 60,
  rateLimitPerUser: 20_000,
  rateLimitPerAddress: 60_000,
  trustedProxies: [],
};

type Parser<K extends keyof Config> = (raw: string, name: string) => Config[K];

export const ROLES = ['all', 'api', 'worker'] as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function oneOf<T extends string>(choices: readonly T[]): (raw: string, name: string) => T {
  return (raw, name) => {
    if (!(choices as readonly string[]).includes(raw)) fail(name, raw, `one of ${choices.join(', ')}`);
    return raw as T;
  };
}

const PARSERS: { [K in keyof Config]: { env: string; parse: Parser<K> } } = {
  host: { env: 'FERRY_HOST', parse: nonEmpty },
  port: { env: 'FERRY_PORT', parse: (raw, name) => integer(raw, name, 0, 65535) },
  dataDir: { env: 'FERRY_DATA_DIR', parse: nonEmpty },
  logLevel: { env: 'FERRY_LOG_LEVEL', parse: oneOf(LOG_LEVELS) },
  maxUploadSize: { env: 'FERRY_MAX_UPLOAD_SIZE', parse: (raw, name) => (raw === '' || raw === '0' ? null : integer(raw, name, 1)) },
  quotaBytes: { env: 'FERRY_QUOTA_BYTES', parse: (raw, name) => (raw === '' || raw === '0' ? null : integer(raw, name, 1)) },
  maxOpenUploads: { env: 'FERRY_MAX_OPEN_UPLOADS', parse: (raw, name) => (raw === '' || raw === '0' ? null : integer(raw, name, 1)) },
  uploadExpirySeconds: { env: 'FERRY_UPLOAD_EXPIRY_SECONDS', parse: (raw, name) => integer(raw, name, 1) },
  expirySweepSeconds: { env: 'FERRY_EXPIRY_SWEEP_SECONDS', parse: (raw, name) => integer(raw, name, 1) },
  lockTimeoutMs: { env: 'FERRY_LOCK_TIMEOUT_MS', parse: (raw, name) => integer(raw, name, 0) },
  lockTtlMs: { env: 'FERRY_LOCK_TTL_MS', parse: (raw, name) => integer(raw, name, 1_000) },
  checkpointBytes: { env: 'FERRY_CHECKPOINT_BYTES', parse: (raw, name) => integer(raw, name, 64 * 1024) },
  corsOrigins: {
    env: 'FERRY_CORS_ORIGINS',
    parse: (raw) => raw.split(',').map((origin) => origin.trim()).filter(Boolean),
  },
  publicUrl: {
    env: 'FERRY_PUBLIC_URL',
    parse: (raw, name) => {
      if (raw === '') return null;
      try {
        return new URL(raw).toString().replace(/\/$/, '');
      } catch {
        return fail(name, raw, 'an absolute URL');
      }
    },
  },
  auth: { env: 'FERRY_AUTH', parse: oneOf(['required', 'none'] as const) },
  sessionTtlSeconds: { env: 'FERRY_SESSION_TTL_SECONDS', parse: (raw, name) => integer(raw, name, 60) },
  loginAttempts: { env: 'FERRY_LOGIN_ATTEMPTS', parse: (raw, name) => integer(raw, name, 1) },
  loginWindowSeconds: { env: 'FERRY_LOGIN_WINDOW_SECONDS', parse: (raw, name) => integer(raw, name, 1) },
  dedupScope: { env: 'FERRY_DEDUP_SCOPE', parse: oneOf(['global', 'tenant', 'user'] as const) },
  filestoreTrustClientHashes: { env: 'FERRY_FILESTORE_TRUST_CLIENT_HASHES', parse: boolean },
  defaultChunkSize: { env: 'FERRY_CHUNK_SIZE', parse: (raw, name) => integer(raw, name, 64 * 1024, 1024 ** 3) },
  redisUrl: {
    env: 'FERRY_REDIS_URL',
    parse: (raw, name) => {
      if (raw === '') return null;
      const url = URL.canParse(raw) ? new URL(raw) : null;
      if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
        // The URL may carry a password: keep it out of the message.
        return fail(name, raw.replace(/\/\/[^/@]*@/, '//…@'), 'a redis:// or rediss:// URL');
      }
      return raw;
    },
  },
  databaseUrl: { env: 'FERRY_DATABASE_URL', parse: serviceUrl(['postgres:', 'postgresql:']) },
  webhookUrls: {
    env: 'FERRY_WEBHOOK_URLS',
    parse: (raw, name) => raw.split(',').map((url) => url.trim()).filter(Boolean).map((url) => serviceUrl(['http:', 'https:'])(url, name)!),
  },
  webhookSecret: { env: 'FERRY_WEBHOOK_SECRET', parse: (raw) => (raw === '' ? null : raw) },
  webhookProgressSeconds: { env: 'FERRY_WEBHOOK_PROGRESS_SECONDS', parse: (raw, name) => integer(raw, name, 0) },
  preCreateHookUrl: { env: 'FERRY_PRE_CREATE_HOOK_URL', parse: serviceUrl(['http:', 'https:']) },
  fuploadClients: {
    env: 'FERRY_FUPLOAD_CLIENTS',
    parse: (raw, name) => {
      let parsed: unknown;
      try {
        parsed = raw === '' ? {} : JSON.parse(raw);
      } catch {
        return fail(name, '…', 'a JSON object {"<token>": "<notifyUrl>"}');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(name, '…', 'a JSON object {"<token>": "<notifyUrl>"}');
      const clients: Record<string, string> = {};
      for (const [token, url] of Object.entries(parsed as Record<string, unknown>)) {
        if (token === '') fail(name, '…', 'non-empty tokens');
        clients[token] = serviceUrl(['http:', 'https:'])(String(url), name)!;
      }
      return clients;
    },
  },
  storage: { env: 'FERRY_STORAGE', parse: oneOf(['local', 's3'] as const) },
  localDirectIo: { env: 'FERRY_LOCAL_DIRECT_IO', parse: boolean },
  s3Endpoint: { env: 'FERRY_S3_ENDPOINT', parse: serviceUrl(['http:', 'https:']) },
  s3Bucket: { env: 'FERRY_S3_BUCKET', parse: (raw) => (raw === '' ? null : raw) },
  s3AccessKey: { env: 'FERRY_S3_ACCESS_KEY', parse: (raw) => (raw === '' ? null : raw) },
  // Taken as it is: nothing checks a secret in a way that could put it in a message.
  s3SecretKey: { env: 'FERRY_S3_SECRET_KEY', parse: (raw) => (raw === '' ? null : raw) },
  s3Region: { env: 'FERRY_S3_REGION', parse: nonEmpty },
  s3ForcePathStyle: { env: 'FERRY_S3_FORCE_PATH_STYLE', parse: boolean },
  tierStorage: { env: 'FERRY_TIER_STORAGE', parse: (raw, name) => (raw === '' ? null : oneOf(['local', 's3'] as const)(raw, name)) },
  tierAfterSeconds: { env: 'FERRY_TIER_AFTER_SECONDS', parse: (raw, name) => integer(raw, name, 0) },
  amqpUrl: { env: 'FERRY_AMQP_URL', parse: serviceUrl(['amqp:', 'amqps:']) },
  amqpPrefix: {
    env: 'FERRY_AMQP_PREFIX',
    parse: (raw, name) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(raw) ? raw : fail(name, raw, 'letters, digits, dots, dashes and underscores')),
  },
  role: { env: 'FERRY_ROLE', parse: oneOf(ROLES) },
  shutdownGraceSeconds: { env: 'FERRY_SHUTDOWN_GRACE_SECONDS', parse: (raw, name) => integer(raw, name, 0, 3600) },
  interimResponses: { env: 'FERRY_INTERIM_RESPONSES', parse: boolean },
  headersTimeoutSeconds: { env: 'FERRY_HEADERS_TIMEOUT_SECONDS', parse: (raw, name) => integer(raw, name, 1, 3600) },
  idleTimeoutSeconds: { env: 'FERRY_IDLE_TIMEOUT_SECONDS', parse: (raw, name) => integer(raw, name, 1, 24 * 3600) },
  minBodyBytesPerSecond: { env: 'FERRY_MIN_BODY_BYTES_PER_SECOND', parse: (raw, name) => integer(raw, name, 0) },
  keepAliveTimeoutSeconds: { env: 'FERRY_KEEP_ALIVE_TIMEOUT_SECONDS', parse: (raw, name) => integer(raw, name, 1, 3600) },
  maxHeaderBytes: { env: 'FERRY_MAX_HEADER_BYTES', parse: (raw, name) => integer(raw, name, 1024, 1024 * 1024) },
  rateLimitWindowSeconds: { env: 'FERRY_RATE_LIMIT_WINDOW_SECONDS', parse: (raw, name) => integer(raw, name, 1, 24 * 3600) },
  rateLimitPerUser: { env: 'FERRY_RATE_LIMIT_PER_USER', parse: (raw, name) => integer(raw, name, 0) },
  rateLimitPerAddress: { env: 'FERRY_RATE_LIMIT_PER_ADDRESS', parse: (raw, name) => integer(raw, name, 0) },
  trustedProxies: {
    env: 'FERRY_TRUSTED_PROXIES',
    parse: (raw, name) => raw.split(',').map((address) => address.trim()).filter(Boolean).map((address) => (isIP(address) ? address : fail(name, address, 'IP addresses separated by commas'))),
  },
};

/** Every variable Ferry reads, for checks of a deployment's settings (deploy/). */
export const SETTING_VARIABLES: readonly string[] = ['FERRY_CONFIG', ...Object.values(PARSERS).map((parser) => parser.env)];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Defaults, then the JSON config file (FERRY_CONFIG, keys as in Config), then FERRY_* variables.
 * Throws ConfigError naming the setting and what it expects.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const fromFile = env.FERRY_CONFIG ? readConfigFile(env.FERRY_CONFIG) : {};
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const key of Object.keys(PARSERS) as (keyof Config)[]) {
    const { env: name, parse } = PARSERS[key];
    if (key in fromFile) merged[key] = parse(String(fromFile[key] ?? ''), `${key} in ${env.FERRY_CONFIG}`);
    const raw = env[name];
    if (raw !== undefined) merged[key] = parse(raw.trim(), name);
  }
  const config = { ...merged, ...overrides } as Config;
  if ((config.webhookUrls.length > 0 || config.preCreateHookUrl !== null) && !config.webhookSecret) {
    throw new ConfigError('FERRY_WEBHOOK_SECRET is required when webhooks or a pre-create hook are configured: receivers check signatures with it');
  }
  checkStorage(config);
  return { ...config, dataDir: resolve(config.dataDir) };
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`FERRY_CONFIG: cannot read ${path} as JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`FERRY_CONFIG: ${path} must hold a JSON object`);
  }
  const unknown = Object.keys(parsed).filter((key) => !(key in PARSERS));
  if (unknown.length > 0) throw new ConfigError(`FERRY_CONFIG: unknown settings in ${path}: ${unknown.join(', ')}`);
  return parsed as Record<string, unknown>;
}

/** A service's URL with one of these schemes, kept as written (drivers parse it); '' for none. */
function serviceUrl(protocols: readonly string[]): (raw: string, name: string) => string | null {
  return (raw, name) => {
    if (raw === '') return null;
    if (!URL.canParse(raw) || !protocols.includes(new URL(raw).protocol)) {
      // Such a URL usually carries a password, which must not reach the message (and the logs).
      fail(name, raw.replace(/\/\/[^/@]*@/, '//…@'), `a ${protocols.map((protocol) => `${protocol}//`).join(' or ')} URL`);
    }
    return raw;
  };
}

/** S3 storage needs its bucket and keys; the message names what is missing, never a value. */
function checkStorage(config: Config): void {
  if (config.tierStorage === config.storage) throw new ConfigError(`FERRY_TIER_STORAGE must name another store than FERRY_STORAGE (both are ${config.storage})`);
  const usesS3 = config.storage === 's3' ? 'FERRY_STORAGE=s3' : config.tierStorage === 's3' ? 'FERRY_TIER_STORAGE=s3' : null;
  if (!usesS3) return;
  const missing = (['s3Bucket', 's3AccessKey', 's3SecretKey'] as const).filter((key) => !config[key]).map((key) => PARSERS[key].env);
  if (missing.length > 0) throw new ConfigError(`${usesS3} needs ${missing.join(', ')}`);
}

function boolean(raw: string, name: string): boolean {
  const value = raw.toLowerCase();
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no' || value === '') return false;
  return fail(name, raw, 'true or false');
}

function nonEmpty(raw: string, name: string): string {
  if (raw === '') fail(name, raw, 'a non-empty value');
  return raw;
}

function integer(raw: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw)) fail(name, raw, 'a whole number');
  const value = Number(raw);
  if (value < min || value > max) fail(name, raw, `a number from ${min} to ${max}`);
  return value;
}

function fail(name: string, raw: string, expected: string): never {
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not valid: expected ${expected}`);
}
