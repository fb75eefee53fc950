// What the live tests need from tests/integration/test_typescript_sdk.py (which starts the worker).
import { fileURLToPath } from "node:url";

export const URL_ = process.env.TRACER_URL;
export const KEY = process.env.TRACER_API_KEY ?? "";
/** Skip reason for the live tests when no worker was given. */
export const NO_WORKER = URL_
  ? false
  : "no worker: set TRACER_URL and TRACER_API_KEY (tests/integration/test_typescript_sdk.py does)";
/** The package's folder (the tests run from build/test/). */
export const PACKAGE = fileURLToPath(new URL("../../", import.meta.url));

export function need(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/integration/test_typescript_sdk.py sets it)`);
  return value;
}
