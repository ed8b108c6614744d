// The one way the interface talks to rookery: same-origin fetch with the
// session cookie (never a token in storage), JSON in and out, and errors
// turned into sentences a person can act on.

/** The error body of the API: {"error": "..."} plus optional details. */
export interface ErrorBody {
  error?: string;
  message?: string;
  key?: string;
  reason?: string;
  feature?: string;
  current_version?: number;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  constructor(status: number, body: ErrorBody, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
  /** True when the licence lacks a feature (403 feature_not_entitled). */
  get notEntitled(): boolean {
    return this.status === 403 && this.body.error === 'feature_not_entitled';
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** onUnauthorized is told when any call answers 401 (the session ended). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

// Sentences for answers that carry no message of their own (a proxy's
// HTML page, an empty body).
function fallbackMessage(status: number): string {
  switch (status) {
    case 401:
      return 'Your session has ended. Sign in again.';
    case 403:
      return 'You are not allowed to do this.';
    case 404:
      return 'The server does not know this address.';
    case 413:
      return 'What you sent is too large for the server.';
    case 429:
      return 'The server is busy. Wait a moment and try again.';
    case 502:
    case 503:
    case 504:
      return 'The server is unavailable at the moment. Try again shortly.';
    default:
      return status >= 500
        ? 'The server failed to answer. Try again, and ask an administrator to look at the server log if it keeps happening.'
        : `The server refused the request (status ${status}).`;
  }
}

/** Capitalise and end with a full stop: the API's messages are phrases. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : first + '.';
}

export function messageOf(status: number, body: ErrorBody): string {
  // A machine-readable code (feature_not_entitled, secret_reentry_required)
  // comes with a sentence for people in message.
  if (typeof body.error === 'string' && /^[a-z_]+$/.test(body.error) && typeof body.message === 'string' && body.message) {
    return sentence(body.message);
  }
  if (typeof body.error === 'string' && body.error) return sentence(body.error);
  if (typeof body.message === 'string' && body.message) return sentence(body.message);
  return fallbackMessage(status);
}

export interface Response<T> {
  data: T;
  headers: Headers;
  status: number;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** send makes one request and returns the raw fetch response, after
 * turning a network failure into an ApiError with status 0. */
export async function send(path: string, opts: RequestOptions = {}): Promise<globalThis.Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  try {
    return await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, {}, 'The server cannot be reached. Check your connection and try again.');
  }
}

/** errorFrom reads an error answer into an ApiError. */
export async function errorFrom(res: globalThis.Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    const parsed: unknown = await res.json();
    if (parsed && typeof parsed === 'object') body = parsed as ErrorBody;
  } catch {
    // not JSON: the fallback sentence says enough
  }
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn());
  return new ApiError(res.status, body, messageOf(res.status, body));
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<Response<T>> {
  const res = await send(path, opts);
  if (!res.ok) throw await errorFrom(res);
  const data = (await res.json()) as T;
  return { data, headers: res.headers, status: res.status };
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>(path, { signal }).then((r) => r.data);

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return sentence(err.message);
  return 'Something went wrong.';
}

// ---- the API's shapes (internal/httpapi) ----

export type Role = 'admin' | 'maintainer' | 'viewer';

export interface Me {
  user: { id: number; email: string; role: Role };
  expires_at: string;
}

export type ConfigType = 'string' | 'integer' | 'boolean' | 'json';

export interface ConfigItem {
  key: string;
  value: string;
  type: ConfigType;
  category: string;
  description: string;
  is_sensitive: boolean;
  is_set: boolean;
  source: 'database' | 'environment' | 'default' | string;
  /** True when the key's environment variable is set and differs from the value in force. */
  env_differs?: boolean;
  constraints?: ConfigConstraints;
  rule?: string;
  default?: string;
  version: number;
  last_updated: string | null;
  updated_by: string | null;
  created_at: string | null;
}

export interface AuditRecord {
  id: number;
  key: string;
  action: string;
  actor: string;
  request_id?: string;
  client_ip?: string;
  old_value: string | null;
  new_value: string | null;
  version: number;
  at: string;
}

export interface LicenseStatus {
  tier?: string;
  customer?: string;
  product?: string;
  expires_at?: string | null;
  issued_at?: string | null;
  features?: string[];
  limits?: Record<string, number>;
  source?: string;
  valid?: boolean;
  release_mode?: boolean;
  last_validated?: string | null;
  last_keepalive?: string | null;
  /** When the licence server was last asked, whatever it said. */
  last_checked?: string | null;
  last_error?: string;
  server_url?: string;
  key_masked?: string;
}

export interface LicenseView {
  license: LicenseStatus;
  entitlements: Record<string, boolean>;
  usage: { users: number; max_users: number; teams: number; multiple_teams?: boolean };
  /** The features of the catalogue rookery provides. */
  implemented?: string[];
}

export interface AIFeatures {
  features: Record<string, boolean>;
  ai_features_enabled: boolean;
}

export interface User {
  id: number;
  email: string;
  role: Role;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  sign_in_method: SignInMethod;
  last_sign_in_at: string | null;
  invited: boolean;
}

// ---- users, sign-in and password pages ----

export type SignInMethod = 'password' | 'oidc' | 'saml';

/** A single sign-on method the login page offers (GET /api/v1/auth/providers). */
export type Provider = { label: string; login_url: string };

export type Providers = { password: boolean; oidc: Provider | null; saml: Provider | null };

/** What a password link is for (GET /api/v1/auth/password/reset?token=). */
export type ResetLink = { email: string; kind: 'reset' | 'invitation'; expires_at: string };

/** The answer to creating a user: invitation is "queued" when no password was given. */
export type CreatedUser = { user: User; invitation?: string };

// ---- settings page ----

/** The structured form of a key's rule (config items' constraints). */
export type ConfigConstraints = {
  min?: number;
  max?: number;
  choices?: string[];
  pattern?: string;
  format?: string;
  /** URL schemes accepted (format url). */
  schemes?: string[];
  /** The empty value is accepted too. */
  optional?: boolean;
};

/** The answer of POST /api/v1/email/test (200) and of a refused send (502). */
export type EmailTestResult = { ok?: boolean; message?: string; error?: string; detail?: string };

// ---- licence, integrations and AI pages ----

/** What "Check now" did (POST /api/v1/license/refresh). */
export type LicenseCheck = {
  outcome: 'no_key' | 'development' | 'valid' | 'refused' | 'unreachable';
  message: string;
  detail?: string;
  checked_at: string | null;
  last_confirmed_at: string | null;
  license: LicenseView;
};

/** The answer of POST /api/v1/integrations/{name}/test: the test ran; ok says how it went. */
export type IntegrationTest = { ok: boolean; message: string; detail: string };

/** Whether the AI gateway can answer now (GET /api/v1/ai/gateway). */
export type AIGateway = { configured: boolean; reachable: boolean; message: string; detail?: string };
