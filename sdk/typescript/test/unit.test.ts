// The client against a fake fetch: errors, retries, timeouts, uploads. No worker needed.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import {
  AuthenticationError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  ServerError,
  TracerClient,
  TracerError,
  TracerTimeoutError,
  UnavailableError,
  type ClientOptions,
} from "../src/index.js";

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

type Answer = Response | (() => Response | Promise<Response>);

/** A client whose fetch answers from `answers` in turn (the last one repeats) and records requests. */
function fake(answers: Answer[], options: Partial<ClientOptions> = {}) {
  const seen: Seen[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const body = init?.body === undefined ? "" : await request.text();
    seen.push({ method: request.method, url: new URL(request.url), headers: request.headers, body });
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)]!;
    return typeof answer === "function" ? answer() : answer.clone();
  };
  const client = new TracerClient({ apiKey: "k", baseUrl: "http://tracer.test/", backoffMs: 1, fetch, ...options });
  return { client, seen };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const error = (status: number, code: string, headers: Record<string, string> = {}) =>
  json({ error: code, detail: `${code} detail` }, status, headers);

const PREDICTION = {
  deployment: "churn-1", blueprint: "customer_churn", model_version: 1, key: "c1", score: 0.7, latency_ms: 1.2,
  output: { churn_probability: 0.7, risk_classification: "high", estimated_churn_window: "21 days",
            intervention_protocols: [], risk_vectors: ["declining_usage"], confidence: 0.5 },
};

test("sends the key, JSON and query; reads the answer", async () => {
  const { client, seen } = fake([json({ blueprints: [{ id: "customer_churn" }] })]);
  const listed = await client.listBlueprints({ category: "customer", search: "churn" });
  assert.deepEqual(listed, [{ id: "customer_churn" }]);
  assert.equal(seen[0]!.headers.get("X-API-Key"), "k");
  assert.equal(seen[0]!.url.href, "http://tracer.test/blueprints?category=customer&search=churn");
});

test("each error status throws its class with the API's code, detail, request id and retry hint", async () => {
  const cases: [number, string, typeof TracerError][] = [
    [401, "invalid_api_key", AuthenticationError], [404, "blueprint_not_found", NotFoundError],
    [409, "deployment_stopped", ConflictError], [413, "payload_too_large", PayloadTooLargeError],
    [422, "invalid_request", InvalidRequestError], [500, "internal_error", ServerError],
  ];
  for (const [status, code, Kind] of cases) {
    const { client, seen } = fake([error(status, code, { "X-Request-Id": "r1" })]);
    const thrown = await client.getBlueprint("x").catch((e: unknown) => e);
    assert.ok(thrown instanceof Kind && thrown instanceof TracerError, `${status}: ${thrown}`);
    assert.deepEqual([thrown.status, thrown.code, thrown.detail, thrown.requestId], [status, code, `${code} detail`, "r1"]);
    assert.equal(seen.length, 1, `${status} is not retried`);
  }
  const { client } = fake([new Response("<html>bad gateway</html>", { status: 502 })]);
  const thrown = await client.health().catch((e: unknown) => e);
  assert.ok(thrown instanceof ServerError);
  assert.equal(thrown.code, "http_502");
});

test("429 and 503 are retried, waiting Retry-After (capped) or a backoff, then succeed", async () => {
  const { client, seen } = fake(
    [error(429, "rate_limited", { "Retry-After": "1" }), error(503, "unavailable"), json(PREDICTION)],
    { maxBackoffMs: 20 },
  );
  const started = performance.now();
  const prediction = await client.predict("churn-1", { cust_id: "c1" });
  assert.equal(seen.length, 3);
  assert.ok(performance.now() - started < 500, "Retry-After: 1 was capped at maxBackoffMs");
  assert.equal(prediction.model_version, 1);
  assert.deepEqual(JSON.parse(seen[2]!.body), { cust_id: "c1" });
});

test("a 429 past maxRetries throws RateLimitError with retryAfter", async () => {
  const { client, seen } = fake([error(429, "rate_limited", { "Retry-After": "2" })], { maxRetries: 2, maxBackoffMs: 1 });
  const thrown = await client.listDatasets().catch((e: unknown) => e);
  assert.ok(thrown instanceof RateLimitError);
  assert.equal(thrown.retryAfter, 2);
  assert.equal(seen.length, 3);
  const unavailable = fake([error(503, "unavailable")], { maxRetries: 0 });
  assert.ok((await unavailable.client.listDatasets().catch((e: unknown) => e)) instanceof UnavailableError);
});

test("a request without an answer in time throws TracerTimeoutError", async () => {
  // AbortSignal.timeout's timer does not hold the event loop open; a real connection would.
  const never = (_: RequestInfo | URL, init?: RequestInit) =>
    new Promise<Response>((_, reject) => {
      const held = setTimeout(() => reject(new Error("the timeout never fired")), 5_000);
      init?.signal?.addEventListener("abort", () => (clearTimeout(held), reject(init.signal!.reason)));
    });
  const client = new TracerClient({ apiKey: "k", timeoutMs: 50, fetch: never as typeof fetch });
  const started = performance.now();
  const thrown = await client.listBlueprints().catch((e: unknown) => e);
  assert.ok(thrown instanceof TracerTimeoutError, String(thrown));
  assert.ok(performance.now() - started < 1000);
});

test("a model's predictions are typed by its blueprint", async () => {
  const deployment = { spec: { id: "churn-1", blueprint: "customer_churn" }, owned_here: true, streaming: true };
  const { client, seen } = fake([json(deployment, 201), json(PREDICTION)]);
  const model = await client.deploy({ blueprint: "customer_churn", dataset: { id: "ds_1" } as never,
                                      parameters: { predictionWindow: "60_days" } });
  const prediction = await model.predict({ cust_id: "c1" });
  // compile-time: ChurnOutput's fields, with their types
  const probability: number = prediction.output.churn_probability;
  const vectors: string[] = prediction.output.risk_vectors;
  assert.equal(probability, 0.7);
  assert.deepEqual(vectors, ["declining_usage"]);
  assert.deepEqual(JSON.parse(seen[0]!.body), { blueprint: "customer_churn", dataset: "ds_1", params: { predictionWindow: "60_days" } });
  assert.equal(seen[1]!.url.pathname, "/deployments/churn-1/predict");
});

test("uploads a path or a Blob raw, with its type, name and progress; retries resend it whole", async () => {
  const folder = await mkdtemp(join(tmpdir(), "tracer-sdk-"));
  const path = join(folder, "customers.csv");
  const text = "cust_id,plan\n" + "c1,pro\n".repeat(200_000);
  await writeFile(path, text);
  const dataset = { id: "ds_1", name: "customers.csv", rows: 200_000 };
  const { client, seen } = fake([error(503, "unavailable"), json(dataset, 201)]);
  const progress: number[] = [];
  const uploaded = await client.uploadData(path, { onProgress: (sent, total) => progress.push(sent / total) });
  assert.equal(uploaded.id, "ds_1");
  assert.equal(seen.length, 2);
  for (const request of seen) {
    assert.equal(request.body, text);
    assert.equal(request.headers.get("Content-Type"), "text/csv");
    assert.equal(request.url.search, "?name=customers.csv");
  }
  assert.ok(progress.length > 2 && progress.at(-1) === 1, `progress: ${progress}`);

  const browser = fake([json(dataset, 201)]);
  const file = new File(["a,b\n1,2\n"], "small.tsv");
  const ticks: [number, number][] = [];
  await browser.client.uploadData(file, { onProgress: (sent, total) => ticks.push([sent, total]) });
  assert.equal(browser.seen[0]!.headers.get("Content-Type"), "text/tab-separated-values");
  assert.equal(browser.seen[0]!.body, "a,b\n1,2\n");
  assert.deepEqual(ticks.at(-1), [8, 8]);
});

test("several files upload in turn; analyzeData merges their suggestions, best first", async () => {
  const { client, seen } = fake([
    json({ id: "a" }, 201), json({ id: "b" }, 201),
    json({ dataset: "a", suggestions: [{ blueprint: "customer_churn", compatibility: 0.5, dataset: "a" }] }),
    json({ dataset: "b", suggestions: [{ blueprint: "revenue_forecast", compatibility: 0.9, dataset: "b" }] }),
  ]);
  const datasets = await client.uploadData([new Blob(["x"]), new Blob(["y"])]);
  const suggestions = await client.analyzeData(datasets);
  assert.deepEqual(suggestions.map((s) => s.blueprint), ["revenue_forecast", "customer_churn"]);
  assert.deepEqual(seen.map((s) => s.url.pathname), ["/datasets", "/datasets", "/datasets/a/analyze", "/datasets/b/analyze"]);
});

test("createComposite posts the documents' config and analyze asks the composite", async () => {
  const composite = { id: "rev", designation: "revenue_optimization", components: ["churn-1"], objective: "o" };
  const { client, seen } = fake([json(composite, 201), json({ risk_assessment: "medium" })]);
  const made = await client.createComposite({ designation: "revenue_optimization", components: [{ id: "churn-1" }], objective: "o" });
  assert.deepEqual(await made.analyze({ customer_id: "c" }), { risk_assessment: "medium" });
  assert.deepEqual(JSON.parse(seen[0]!.body), { designation: "revenue_optimization", components: ["churn-1"], objective: "o" });
  assert.equal(seen[1]!.url.pathname, "/composites/rev/analyze");
});

test("deploy with onProgress polls the progress while the POST runs: new values once, never back, ending at the total", async () => {
  const polls: Response[] = [
    error(404, "deployment_not_found"),
    json({ deployment: "x", phase: "queued", done: 0, total: 1000 }),
    json({ deployment: "x", phase: "training", done: 256, total: 1000 }),
    json({ deployment: "x", phase: "training", done: 256, total: 1000 }),
    json({ deployment: "x", phase: "training", done: 200, total: 1000 }),
    json({ deployment: "x", phase: "training", done: 768, total: 1000 }),
  ];
  const paths: string[] = [];
  let posted: Record<string, unknown> = {};
  let answer: () => void = () => {};
  const released = new Promise<void>((resolve) => (answer = resolve));
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    paths.push(`${request.method} ${new URL(request.url).pathname}`);
    assert.equal(request.headers.get("X-API-Key"), "k");
    if (request.method === "POST") {
      posted = JSON.parse(await request.text()) as Record<string, unknown>;
      await released;
      const spec = { id: posted.id, blueprint: "customer_churn", input_topics: ["t"], key_field: "cust_id" };
      return json({ spec, model_version: 1, owned_here: true, streaming: true, status: "running",
                    validation: { rows: 1000, scored: 990, learned: 990, errors: 10 } }, 201);
    }
    const next = polls.shift();
    if (polls.length === 0) answer();
    return next ?? json({ deployment: "x", phase: "publishing", done: 1000, total: 1000 });
  };
  const client = new TracerClient({ apiKey: "k", baseUrl: "http://tracer.test", fetch, progressIntervalMs: 1 });
  const ticks: [number, number | null][] = [];
  const model = await client.deploy({ blueprint: "customer_churn", dataset: "ds_1", onProgress: (d, t) => ticks.push([d, t]) });
  assert.deepEqual(ticks, [[0, 1000], [256, 1000], [768, 1000], [1000, 1000]]);
  assert.match(String(posted.id), /^customer-churn-[0-9a-f]{6}$/);
  assert.equal(model.id, posted.id);
  assert.ok(paths.slice(1).every((p) => p === `GET /deployments/${posted.id}/progress`), paths.join(", "));

  const quiet = fake([json({ spec: { id: "given", blueprint: "customer_churn" }, validation: null }, 201)]);
  await quiet.client.deploy({ blueprint: "customer_churn", id: "given" });
  assert.deepEqual(quiet.seen.map((s) => s.method), ["POST"], "no onProgress: no polling, no id picked");
  assert.deepEqual(JSON.parse(quiet.seen[0]!.body), { blueprint: "customer_churn", id: "given" });
});

test("a failed deploy with onProgress throws the POST's error", async () => {
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) =>
    init?.method === "POST" ? error(422, "dataset_incompatible") : json({ deployment: "x", phase: "failed", done: 3, total: 9 });
  const client = new TracerClient({ apiKey: "k", baseUrl: "http://tracer.test", fetch, progressIntervalMs: 1 });
  const ticks: number[] = [];
  await assert.rejects(client.deploy({ blueprint: "customer_churn", dataset: "ds_1", onProgress: (d) => ticks.push(d) }), InvalidRequestError);
  assert.deepEqual(ticks, []);
});

test("no key, no client", () => {
  assert.throws(() => new TracerClient({ apiKey: "" }), TypeError);
});

test("in a browser (XMLHttpRequest), a File's upload progress comes from its progress events", async () => {
  const sent: { method: string; url: string; headers: Record<string, string>; body: Blob }[] = [];
  class FakeXhr {
    upload: { onprogress?: (event: { loaded: number; total: number; lengthComputable: boolean }) => void } = {};
    onload?: () => void;
    onerror?: () => void;
    onabort?: () => void;
    responseType = "";
    status = 0;
    responseText = "";
    private request = { method: "", url: "", headers: {} as Record<string, string> };
    open(method: string, url: string) {
      this.request = { method, url, headers: {} };
    }
    setRequestHeader(name: string, value: string) {
      this.request.headers[name] = value;
    }
    getAllResponseHeaders() {
      return "content-type: application/json\r\nx-request-id: r9\r\n";
    }
    abort() {
      this.onabort?.();
    }
    send(body: Blob) {
      sent.push({ ...this.request, body });
      setTimeout(() => {
        for (const loaded of [body.size / 2, body.size]) this.upload.onprogress?.({ loaded, total: body.size, lengthComputable: true });
        [this.status, this.responseText] = [201, JSON.stringify({ id: "ds_x", name: "f.csv" })];
        this.onload?.();
      }, 1);
    }
  }
  const global = globalThis as { XMLHttpRequest?: unknown };
  global.XMLHttpRequest = FakeXhr;
  try {
    const { client, seen } = fake([json({}, 500)]);
    const ticks: [number, number][] = [];
    const dataset = await client.uploadData(new File(["a,b\n1,2\n"], "f.csv"), { onProgress: (s, t) => ticks.push([s, t]) });
    assert.equal(dataset.id, "ds_x");
    assert.equal(seen.length, 0, "not through fetch");
    assert.deepEqual(ticks, [[4, 8], [8, 8]]);
    assert.equal(sent[0]!.url, "http://tracer.test/datasets?name=f.csv");
    assert.deepEqual([sent[0]!.method, sent[0]!.headers["Content-Type"], sent[0]!.headers["X-API-Key"]], ["POST", "text/csv", "k"]);
    const error = fake([json({}, 500)]);
    class Refusing extends FakeXhr {
      override send() {
        Object.assign(this, { status: 413, responseText: JSON.stringify({ error: "payload_too_large", detail: "too big" }) });
        setTimeout(() => this.onload?.(), 1);
      }
    }
    global.XMLHttpRequest = Refusing;
    const thrown = await error.client.uploadData(new Blob(["x"]), { onProgress: () => {} }).catch((e: unknown) => e);
    assert.ok(thrown instanceof PayloadTooLargeError && thrown.requestId === "r9", String(thrown));
  } finally {
    delete global.XMLHttpRequest;
  }
});
