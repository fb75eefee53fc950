// The client against a live worker on the real broker: the documents' customer journey and every
// error path. Run by tests/integration/test_typescript_sdk.py, which starts the worker with a
// `churn` and a `market` deployment (the latter with a shadow, `slow`) and sets the environment.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import {
  AuthenticationError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  TracerClient,
  type Row,
} from "../src/index.js";
import { KEY, NO_WORKER, URL_, need } from "./env.js";

const skip = NO_WORKER;
const client = () => new TracerClient({ apiKey: KEY, baseUrl: URL_ });

/** The first data row of the CSV, as a row to score (numbers as numbers, the label left out). */
async function firstRow(path: string): Promise<Row> {
  const [header, line] = (await readFile(path, "utf8")).split("\n");
  const row: Row = {};
  header!.split(",").forEach((name, i) => {
    const value = line!.split(",")[i]!;
    if (name !== "churned") row[name] = value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
  });
  return row;
}

test("the customer journey: upload, analyze, deploy, predict, versions, stop", { skip }, async () => {
  const tracer = client();
  const csv = need("TRACER_TEST_CSV");
  const progress: [number, number][] = [];
  const dataset = await tracer.uploadData(csv, { onProgress: (sent, total) => progress.push([sent, total]) });
  assert.equal(dataset.name, "customers.csv");
  assert.equal(dataset.rows, 2000);
  assert.equal(dataset.columns.find((c) => c.name === "cust_id")?.kind, "id");
  assert.ok(progress.length >= 1 && progress.at(-1)![0] === dataset.bytes, `progress ${progress}`);
  assert.ok((await tracer.listDatasets()).some((d) => d.id === dataset.id));

  const [best] = await tracer.analyzeData([dataset]);
  assert.equal(best?.blueprint, "customer_churn");
  assert.ok(best.compatibility > 0.9, best.reason);

  const ticks: [number, number | null][] = [];
  const polling = new TracerClient({ apiKey: KEY, baseUrl: URL_, progressIntervalMs: 20 });
  const model = await polling.deploy({
    blueprint: "customer_churn", dataset, parameters: { predictionWindow: "60_days" },
    onProgress: (done, total) => ticks.push([done, total]),
  });
  assert.equal(model.blueprint, "customer_churn");
  assert.equal(model.deployment.validation?.rows, 2000);
  assert.ok(model.deployment.owned_here && model.deployment.streaming);
  assert.match(model.id, /^customer-churn-[0-9a-f]{6}$/, "the client picked the id it polled");
  assert.ok(ticks.length >= 2, `progress seen while training: ${JSON.stringify(ticks)}`);
  assert.deepEqual(ticks.at(-1), [2000, 2000]);
  for (const [i, [done, total]] of ticks.entries()) {
    assert.equal(total, 2000);
    if (i > 0) assert.ok(done > ticks[i - 1]![0], `increasing: ${JSON.stringify(ticks)}`);
  }
  assert.deepEqual(await model.progress(), { deployment: model.id, phase: "live", done: 2000, total: 2000 });

  const row = await firstRow(csv);
  const prediction = await model.predict(row);
  const probability: number = prediction.output.churn_probability; // typed by the blueprint
  assert.ok(probability >= 0 && probability <= 1);
  assert.ok(Array.isArray(prediction.output.risk_vectors));
  assert.ok(prediction.output.confidence >= 0 && prediction.output.confidence <= 1);
  assert.equal(prediction.model_version, 1);
  const same = await tracer.predict(model, row);
  assert.equal(same.output.churn_probability, probability);

  const versions = await model.versions();
  assert.deepEqual(versions.map((v) => [v.version, v.reason]), [[1, "deploy"]]);
  await assert.rejects(model.rollback(), (e: unknown) => e instanceof ConflictError && e.code === "rollback_unavailable");
  const listed = await tracer.listDeployments();
  assert.equal(listed.find((d) => d.id === model.id)?.status, "running");

  const stopped = await model.stop();
  assert.equal(stopped.status, "stopped");
  assert.equal((await tracer.listDeployments()).find((d) => d.id === model.id)?.status, "stopped");
  assert.deepEqual((await model.versions()).map((v) => v.version), [1], "its versions stay readable");
  await assert.rejects(model.predict(row), (e: unknown) => e instanceof ConflictError && e.code === "deployment_stopped");

  await tracer.deleteDataset(dataset);
  await assert.rejects(tracer.getDataset(dataset.id), NotFoundError);
});

test("promote a shadow, roll back: each a new version, listed in order", { skip }, async () => {
  const market = await client().getModel("market");
  const promoted = await market.promote("slow");
  const restored = await market.rollback(1);
  assert.deepEqual([promoted.reason, restored.reason], ["promotion", "rollback"]);
  assert.equal(restored.version, promoted.version + 1);
  const versions = await market.versions();
  assert.deepEqual(versions.slice(-2).map((v) => v.version), [promoted.version, restored.version]);
});

test("401: a wrong key", { skip }, async () => {
  const wrong = new TracerClient({ apiKey: "not-a-key", baseUrl: URL_ });
  await assert.rejects(wrong.listBlueprints(), (e: unknown) => e instanceof AuthenticationError && e.status === 401);
});

test("404: no such blueprint, dataset or deployment", { skip }, async () => {
  const tracer = client();
  for (const call of [tracer.getBlueprint("nope"), tracer.getDataset("ds_nope"), tracer.predict("nope", {})]) {
    await assert.rejects(call, (e: unknown) => e instanceof NotFoundError && e.status === 404 && e.detail.length > 0);
  }
});

test("413: an upload over the worker's limit", { skip }, async () => {
  const limit = Number(need("TRACER_MAX_UPLOAD_BYTES"));
  const big = new File([new Uint8Array(limit + 1).fill(0x61)], "big.csv");
  for (const onProgress of [undefined, () => {}]) {
    await assert.rejects(client().uploadData(big, { onProgress }), (e: unknown) => e instanceof PayloadTooLargeError && e.status === 413);
  }
});

test("422: an unknown blueprint, a bad parameter, a row that can't be scored", { skip }, async () => {
  const tracer = client();
  await assert.rejects(tracer.deploy({ blueprint: "nope" }), (e: unknown) => e instanceof InvalidRequestError && e.status === 422);
  await assert.rejects(tracer.deploy({ blueprint: "customer_churn", parameters: { predictionWindow: "7_years" } }), InvalidRequestError);
  await assert.rejects(tracer.predict("churn", { cust_id: "c1" }), (e: unknown) => e instanceof InvalidRequestError && /churn/.test(e.detail));
});

test("429: over the rate, with its Retry-After; a retrying client gets through", { skip }, async () => {
  const key = need("TRACER_API_KEY_LIMITED");
  const impatient = new TracerClient({ apiKey: key, baseUrl: URL_, maxRetries: 0 });
  const results = await Promise.allSettled(Array.from({ length: 120 }, () => impatient.listBlueprints({ search: "churn" })));
  const limited = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  assert.ok(limited.length > 0, "120 requests at once went over a burst of 50");
  for (const error of limited) assert.ok(error instanceof RateLimitError && error.retryAfter! >= 1, String(error));
  const patient = new TracerClient({ apiKey: key, baseUrl: URL_, maxRetries: 5, maxBackoffMs: 3000 });
  assert.ok((await patient.listBlueprints()).length > 0);
});

test("createComposite and analyze (POST /composites): a refusal names the field, a row is scored", { skip }, async () => {
  const tracer = client();
  await assert.rejects(
    tracer.createComposite({ designation: "broken", components: ["market"], objective: "minimize_churn_loss" }),
    (e: unknown) => e instanceof InvalidRequestError && /customer_churn/.test(e.detail),
  );
  const composite = await tracer.createComposite({
    designation: "retention", components: ["churn"], objective: "minimize_churn_loss",
  });
  assert.deepEqual(composite.composite.components, ["churn"]);
  const row = await firstRow(need("TRACER_TEST_CSV"));
  const strategy = await composite.analyze({ ...row, mrr: 120 });
  assert.equal(strategy.objective, "minimize_churn_loss");
  assert.deepEqual(strategy.scored_from, { customer_churn: "row" });
  assert.ok(strategy.recommended_protocols.length > 0);
  for (const item of strategy.recommended_protocols) {
    assert.match(item.impact, /^[+-]\$/);
    assert.ok(item.confidence >= 0 && item.confidence <= 1);
  }
  assert.ok(["low", "medium", "high", "critical"].includes(strategy.risk_assessment));
});
