// The committed src/generated/ equals what the live worker serves (npm run check-types).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

import { NO_WORKER, PACKAGE } from "./env.js";

test("the committed types are the served API's", { skip: NO_WORKER }, () => {
  const run = spawnSync(process.execPath, ["scripts/generate-types.mjs", "--check"], { cwd: PACKAGE, encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
