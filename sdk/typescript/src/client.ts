/**
 * `TracerClient`: the documents' SDK (`uploadData`, `analyzeData`, `listBlueprints`, `getBlueprint`,
 * `deploy` -> `model.predict`, `createComposite` -> `analyze`) over the Tracer HTTP API, with the
 * global `fetch` and nothing else at run time.
 *
 * Every call has a timeout; 429 and 503 answers (the API refused before doing anything, or the
 * broker or owner is away) are retried with the API's `Retry-After` or a jittered exponential
 * backoff, and nothing else is. Error answers throw the `TracerError` subclass for their status.
 */
import { errorFor, TracerConnectionError, TracerError, TracerTimeoutError } from "./errors.js";
import type {
  AnyBlueprintId,
  Blueprint,
  BlueprintDetails,
  Composite,
  CompositeAnalysis,
  Dataset,
  DatasetSummary,
  Deployment,
  DeploymentProgress,
  DeploymentSummary,
  DeployRequest,
  Health,
  ModelVersion,
  ParamValue,
  Prediction,
  Row,
  Suggestion,
} from "./types.js";
import { newDeploymentId, ProgressRelay, type DeployProgress } from "./progress.js";
import { hasXhr, prepare, xhrFetch, type UploadOptions, type UploadSource } from "./upload.js";

/** A worker's web port on this machine. */
export const DEFAULT_URL = "http://127.0.0.1:6066";
const RETRY_STATUSES = new Set([429, 503]);

export interface ClientOptions {
  /** One of the worker's `TRACER_API_KEYS`, sent as `X-API-Key`. */
  apiKey: string;
  /** The worker's URL (default `http://127.0.0.1:6066`). */
  baseUrl?: string;
  /** Per attempt, in ms (default 60 s). */
  timeoutMs?: number;
  /** For uploads and deploys, which train on the dataset before answering (default 10 min). */
  longTimeoutMs?: number;
  /** Retries of a 429 or 503 answer (default 3). */
  maxRetries?: number;
  /** First backoff when the API gives no `Retry-After`, in ms (default 250); it doubles, with jitter. */
  backoffMs?: number;
  /** The longest wait between attempts, in ms (default 10 s); a longer `Retry-After` is capped to it. */
  maxBackoffMs?: number;
  /** A `fetch` to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
  /** How often `deploy({onProgress})` polls the deployment's progress, in ms (default 250). */
  progressIntervalMs?: number;
}

/** `deploy`'s config: the documents' `{blueprint, dataset, parameters}`, plus the API's other options. */
export interface DeployConfig<B extends string> {
  blueprint: B;
  /** A dataset from `uploadData` (or its id): the model is trained on it before it goes live. */
  dataset?: Dataset | DatasetSummary | string;
  /** The blueprint's business parameters (`getBlueprint(id).parameters` lists them). */
  parameters?: Record<string, ParamValue>;
  id?: string;
  inputTopics?: string[];
  columnMapping?: Record<string, string>;
  keyField?: string;
  labels?: DeployRequest["labels"];
  /** Called as the training replay goes on with `(rowsDone, rowsTotal)`, last with `(rows, rows)` once
   * the model is live: the client polls `GET /deployments/{id}/progress` meanwhile (and picks the
   * `id` if none is given). */
  onProgress?: DeployProgress;
}

interface Send {
  json?: unknown;
  query?: Record<string, string | undefined>;
  upload?: { source: UploadSource; options: UploadOptions };
  long?: boolean;
}

type Id = string | { id: string };
const idOf = (value: Id): string => (typeof value === "string" ? value : value.id);
const segment = (value: Id): string => encodeURIComponent(idOf(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class TracerClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly longTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly progressIntervalMs: number;

  constructor(config: ClientOptions) {
    if (!config?.apiKey) throw new TypeError("TracerClient needs an apiKey (one of the worker's TRACER_API_KEYS)");
    this.apiKey = config.apiKey;
    this.baseUrl = (config.baseUrl ?? DEFAULT_URL).replace(/\/+$/, "");
    const given = config.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => given(input, init);
    this.timeoutMs = config.timeoutMs ?? 60_000;
    this.longTimeoutMs = config.longTimeoutMs ?? 600_000;
    this.maxRetries = config.maxRetries ?? 3;
    this.backoffMs = config.backoffMs ?? 250;
    this.maxBackoffMs = config.maxBackoffMs ?? 10_000;
    this.progressIntervalMs = config.progressIntervalMs ?? 250;
  }

  // -- datasets --------------------------------------------------------------------------------

  /** Upload a dataset (CSV, TSV, JSON lines or Parquet): a path (Node), a `File`/`Blob`, or bytes;
   * several at once with an array. The worker streams it to disk and profiles its columns. */
  uploadData(file: UploadSource, options?: UploadOptions): Promise<Dataset>;
  uploadData(files: UploadSource[], options?: UploadOptions): Promise<Dataset[]>;
  async uploadData(file: UploadSource | UploadSource[], options: UploadOptions = {}): Promise<Dataset | Dataset[]> {
    if (!Array.isArray(file)) return this.send<Dataset>("POST", "/datasets", { upload: { source: file, options } });
    const uploaded: Dataset[] = [];
    for (const one of file) uploaded.push(await this.uploadData(one, { ...options, name: undefined }));
    return uploaded;
  }

  /** Blueprint suggestions, best first: `{blueprint, compatibility, reason, ...}`. For several
   * datasets, every dataset's suggestions (each names its `dataset`), best first. */
  async analyzeData(datasets: Id | Id[]): Promise<Suggestion[]> {
    const all: Suggestion[] = [];
    for (const dataset of Array.isArray(datasets) ? datasets : [datasets]) {
      const answer = await this.send<{ suggestions: Suggestion[] }>("POST", `/datasets/${segment(dataset)}/analyze`);
      all.push(...answer.suggestions);
    }
    return all.sort((a, b) => b.compatibility - a.compatibility);
  }

  async listDatasets(): Promise<DatasetSummary[]> {
    return (await this.send<{ datasets: DatasetSummary[] }>("GET", "/datasets")).datasets;
  }

  getDataset(dataset: Id): Promise<Dataset> {
    return this.send("GET", `/datasets/${segment(dataset)}`);
  }

  async deleteDataset(dataset: Id): Promise<void> {
    await this.send("DELETE", `/datasets/${segment(dataset)}`);
  }

  // -- blueprints ------------------------------------------------------------------------------

  async listBlueprints(options: { category?: string; search?: string } = {}): Promise<Blueprint[]> {
    return (await this.send<{ blueprints: Blueprint[] }>("GET", "/blueprints", { query: options })).blueprints;
  }

  getBlueprint(blueprintId: AnyBlueprintId): Promise<BlueprintDetails> {
    return this.send("GET", `/blueprints/${segment(blueprintId)}`);
  }

  // -- deployments -----------------------------------------------------------------------------

  /** Deploy a blueprint: train it on the dataset, publish it and serve it. The model's predictions
   * are typed by the blueprint (`deploy({blueprint: "customer_churn", ...})` predicts `ChurnOutput`s). */
  async deploy<const B extends AnyBlueprintId>(config: DeployConfig<B>): Promise<Model<B>> {
    const body: Record<string, unknown> = { blueprint: config.blueprint };
    if (config.dataset !== undefined) body.dataset = idOf(config.dataset);
    if (config.parameters) body.params = config.parameters;
    const polled = config.onProgress && config.dataset !== undefined;
    const id = config.id ?? (polled ? newDeploymentId(config.blueprint) : undefined);
    const extra = { id, input_topics: config.inputTopics, column_mapping: config.columnMapping,
      key_field: config.keyField, labels: config.labels };
    for (const [name, value] of Object.entries(extra)) if (value !== undefined) body[name] = value;
    const posted = this.send<Deployment>("POST", "/deployments", { json: body, long: true });
    const deployment = polled && id ? await this.withProgress(posted, id, config.onProgress!) : await posted;
    return new Model<B>(this, deployment);
  }

  /** How far a deployment's creation has come: its phase, and its training rows done out of total. */
  deploymentProgress(model: Id): Promise<DeploymentProgress> {
    return this.send("GET", `/deployments/${segment(model)}/progress`);
  }

  private async withProgress(posted: Promise<Deployment>, id: string, onProgress: DeployProgress): Promise<Deployment> {
    const relay = new ProgressRelay(onProgress);
    let settled = false;
    const over = posted.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await Promise.race([over, sleep(this.progressIntervalMs)]);
      if (!settled) relay.seen(await this.pollProgress(id));
    }
    const deployment = await posted;
    relay.finish(deployment);
    return deployment;
  }

  /** One look at a deployment's progress, no retry: undefined if there is nothing to show (yet). */
  private async pollProgress(id: string): Promise<DeploymentProgress | undefined> {
    try {
      const response = await this.fetch(`${this.baseUrl}/deployments/${encodeURIComponent(id)}/progress`, {
        headers: { "X-API-Key": this.apiKey, Accept: "application/json" },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return response.status === 200 ? ((await response.json()) as DeploymentProgress) : undefined;
    } catch {
      return undefined;
    }
  }

  /** A deployment already running (or stopped), as a `Model`. */
  async getModel<const B extends AnyBlueprintId = AnyBlueprintId>(deploymentId: Id): Promise<Model<B>> {
    return new Model<B>(this, await this.send<Deployment>("GET", `/deployments/${segment(deploymentId)}`));
  }

  async listDeployments(): Promise<DeploymentSummary[]> {
    return (await this.send<{ deployments: DeploymentSummary[] }>("GET", "/deployments")).deployments;
  }

  /** Score one row with the model's live version. */
  predict<B extends AnyBlueprintId>(model: Model<B>, input: Row): Promise<Prediction<B>>;
  predict(model: string, input: Row): Promise<Prediction<AnyBlueprintId>>;
  predict(model: Id, input: Row): Promise<Prediction<AnyBlueprintId>> {
    return this.send("POST", `/deployments/${segment(model)}/predict`, { json: input });
  }

  /** The model's versions, oldest first; the last one is live. */
  async versions(model: Id): Promise<ModelVersion[]> {
    return (await this.send<{ versions: ModelVersion[] }>("GET", `/deployments/${segment(model)}/versions`)).versions;
  }

  /** Restore an earlier version (default: the live version's parent); it becomes a new live version. */
  rollback(model: Id, toVersion?: number): Promise<ModelVersion> {
    const json = toVersion === undefined ? {} : { to_version: toVersion };
    return this.send("POST", `/deployments/${segment(model)}/rollback`, { json });
  }

  /** Make a shadow's model live. */
  promote(model: Id, shadow: string): Promise<ModelVersion> {
    return this.send("POST", `/deployments/${segment(model)}/promote`, { json: { shadow } });
  }

  /** Stop scoring a deployment; its history and versions stay readable. */
  stopDeployment(model: Id): Promise<Deployment> {
    return this.send("DELETE", `/deployments/${segment(model)}`);
  }

  // -- composites (issue 21) -------------------------------------------------------------------

  /** Combine deployments that share an entity under an objective (`POST /composites`, issue 21). */
  async createComposite(config: {
    designation: string;
    components: Id[];
    objective: string;
    entity?: string;
    overrides?: Record<string, unknown>;
  }): Promise<CompositeModel> {
    const json = { ...config, components: config.components.map(idOf) };
    return new CompositeModel(this, await this.send<Composite>("POST", "/composites", { json }));
  }

  /** A composite declared before (in the deployments file or by another client). */
  async getComposite(id: string): Promise<CompositeModel> {
    return new CompositeModel(this, await this.send<Composite>("GET", `/composites/${encodeURIComponent(id)}`));
  }

  /** Every composite the worker reads. */
  async listComposites(): Promise<Composite[]> {
    return (await this.send<{ composites: Composite[] }>("GET", "/composites")).composites;
  }

  // -- the worker ------------------------------------------------------------------------------

  health(): Promise<Health> {
    return this.send("GET", "/ml/health");
  }

  /** One request, retried on 429 and 503; the parsed JSON answer (undefined for 204). */
  async send<T>(method: string, path: string, send: Send = {}): Promise<T> {
    const query = Object.entries(send.query ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const upload = send.upload && (await prepare(send.upload.source, send.upload.options));
    if (upload?.name) query.push(["name", upload.name]);
    const url = this.baseUrl + path + (query.length ? `?${new URLSearchParams(query)}` : "");
    const timeoutMs = send.long || upload ? this.longTimeoutMs : this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { "X-API-Key": this.apiKey, Accept: "application/json" };
      const init: RequestInit & { duplex?: "half" } = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
      if (send.json !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(send.json);
      } else if (upload) {
        headers["Content-Type"] = upload.contentType;
        const { body, stream } = await upload.body(send.upload?.options.onProgress);
        init.body = body;
        if (stream) init.duplex = "half";
      }
      const progress = send.upload?.options.onProgress;
      let response: Response;
      try {
        response = await (upload && progress && hasXhr() ? xhrFetch(url, init, progress) : this.fetch(url, init));
      } catch (cause) {
        const name = (cause as Error)?.name;
        if (name === "TimeoutError" || name === "AbortError")
          throw new TracerTimeoutError(0, "timeout", `${method} ${path}: no answer within ${timeoutMs} ms`, { cause });
        throw new TracerConnectionError(0, "connection_failed", `${method} ${path}: ${(cause as Error)?.message ?? cause}`, { cause });
      }
      if (response.ok) {
        if (response.status === 204) return undefined as T;
        return (await response.json()) as T;
      }
      const error = await errorOf(response);
      if (!RETRY_STATUSES.has(response.status) || attempt >= this.maxRetries) throw error;
      await sleep(this.delay(attempt, error));
    }
  }

  private delay(attempt: number, error: TracerError): number {
    if (error.retryAfter !== undefined) return Math.min(error.retryAfter * 1000, this.maxBackoffMs);
    return Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
  }
}

async function errorOf(response: Response): Promise<TracerError> {
  const text = await response.text().catch(() => "");
  let code = `http_${response.status}`;
  let detail = text.slice(0, 500) || response.statusText;
  try {
    const body = JSON.parse(text) as { error?: unknown; detail?: unknown };
    if (typeof body.error === "string" && typeof body.detail === "string") [code, detail] = [body.error, body.detail];
  } catch {
    // not JSON: keep the text
  }
  const after = Number(response.headers.get("Retry-After") ?? Number.NaN);
  return errorFor(response.status, code, detail, {
    requestId: response.headers.get("X-Request-Id") ?? undefined,
    retryAfter: Number.isFinite(after) && after >= 0 ? after : undefined,
  });
}

/** A deployment: `predict` scores a row with its live version, typed by its blueprint. */
export class Model<B extends AnyBlueprintId = AnyBlueprintId> {
  constructor(
    readonly client: TracerClient,
    /** The API's answer for it when the client last asked (`refresh` asks again). */
    public deployment: Deployment,
  ) {}

  get id(): string {
    return this.deployment.spec.id;
  }

  get blueprint(): B {
    return this.deployment.spec.blueprint as B;
  }

  predict(input: Row): Promise<Prediction<B>> {
    return this.client.predict(this, input);
  }

  versions(): Promise<ModelVersion[]> {
    return this.client.versions(this);
  }

  rollback(toVersion?: number): Promise<ModelVersion> {
    return this.client.rollback(this, toVersion);
  }

  promote(shadow: string): Promise<ModelVersion> {
    return this.client.promote(this, shadow);
  }

  /** Stop scoring; the versions stay readable. */
  async stop(): Promise<Deployment> {
    this.deployment = await this.client.stopDeployment(this);
    return this.deployment;
  }

  /** How far its creation has come (`live` once it serves). */
  progress(): Promise<DeploymentProgress> {
    return this.client.deploymentProgress(this);
  }

  async refresh(): Promise<Deployment> {
    this.deployment = await this.client.send<Deployment>("GET", `/deployments/${segment(this)}`);
    return this.deployment;
  }
}

/** A composite (issue 21): `analyze` asks all its components at once. */
export class CompositeModel {
  constructor(
    readonly client: TracerClient,
    readonly composite: Composite,
  ) {}

  get id(): string {
    return this.composite.id;
  }

  analyze(input: Row): Promise<CompositeAnalysis> {
    return this.client.send("POST", `/composites/${segment(this)}/analyze`, { json: input });
  }
}
