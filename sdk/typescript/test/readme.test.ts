// A consumer project installs the packed tarball, type-checks the READMEs' examples (this package's and
// the repository's) against it and, with a worker, runs them.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { NO_WORKER, PACKAGE, need } from "./env.js";

/** The command's stdout; its whole output in the assertion when it fails. */
function run(command: string, args: string[], options: SpawnSyncOptions): string {
  const done = spawnSync(command, args, { encoding: "utf8", timeout: 300_000, ...options });
  const output = `${done.stdout ?? ""}${done.stderr ?? ""}`;
  assert.equal(done.status, 0, `${command} ${args.join(" ")} failed:\n${output}${done.error ?? ""}`);
  return String(done.stdout);
}

test("npm pack; a consumer installs it, type-checks and runs the READMEs' examples", async (t) => {
  const folder = await mkdtemp(join(tmpdir(), "tracer-sdk-consumer-"));
  try {
    const listing = run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", folder], { cwd: PACKAGE });
    const packed = JSON.parse(listing.slice(listing.search(/^\[/m))); // after prepack's build output
    const { filename, size, unpackedSize } = packed[0] as { filename: string; size: number; unpackedSize: number };
    t.diagnostic(`tarball ${size} bytes, unpacked ${unpackedSize} bytes`);
    await writeFile(join(folder, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(folder, filename)], { cwd: folder });

    // Every TypeScript block that imports the package, here and in the repository's README.
    const examples: string[] = [];
    for (const readme of [join(PACKAGE, "README.md"), join(PACKAGE, "../../docs/api.md")]) {
      const text = await readFile(readme, "utf8");
      for (const [, code] of text.matchAll(/```ts\n([\s\S]*?)```/g)) if (code?.includes('from "@tracer/sdk"')) examples.push(code);
    }
    assert.equal(examples.length, 2, "one example in each README");
    const files = examples.map((_, i) => `example${i}.ts`);
    await Promise.all(examples.map((code, i) => writeFile(join(folder, files[i]!), code)));
    const config = {
      compilerOptions: {
        target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false,
        lib: ["ES2022", "DOM"], types: ["node"], typeRoots: [join(PACKAGE, "node_modules/@types")], outDir: "out",
      },
      files,
    };
    await writeFile(join(folder, "tsconfig.json"), JSON.stringify(config));
    run(process.execPath, [join(PACKAGE, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: folder });

    if (NO_WORKER) return t.skip(`type-checked; not run: ${NO_WORKER}`);
    await copyFile(need("TRACER_TEST_CSV"), join(folder, "customers.csv"));
    const outputs = files.map((file) => run(process.execPath, [`out/${file.replace(/ts$/, "js")}`], { cwd: folder }));
    for (const output of outputs) assert.match(output, /customer_churn/);
    assert.match(outputs[0]!, /1: deploy/);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
