/**
 * Deploy progress: while `POST /deployments` replay-trains a model on its dataset, the client polls
 * `GET /deployments/{id}/progress` (the client picks the id, so it knows what to poll before the
 * answer) and reports the rows replayed out of the dataset's. (Upload progress needs no endpoint:
 * the client counts the bytes it sends, see upload.ts.)
 */
import type { Deployment, DeploymentProgress } from "./types.js";

/** `onProgress(rowsDone, rowsTotal)`: rows of the dataset replayed so far (`rowsTotal` null without one). */
export type DeployProgress = (done: number, total: number | null) => void;

/** An id like the API's default (`<blueprint>-<random>`), for a deploy whose progress the client polls. */
export function newDeploymentId(blueprint: string): string {
  const name = blueprint.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "");
  const random = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${name.slice(0, 50) || "deployment"}-${random}`;
}

/** Turns polled progress into `onProgress` calls: each new value once, `done` never going back, and a
 * last call with `(rows, rows)` from the deploy's answer. */
export class ProgressRelay {
  private last: [number, number | null] | undefined;

  constructor(private readonly onProgress: DeployProgress) {}

  /** One poll's answer (undefined: nothing to show yet, e.g. a 404 before the POST arrived). */
  seen(progress: DeploymentProgress | undefined): void {
    if (!progress || progress.phase === "failed" || progress.phase === "stopped") return;
    this.report(progress.done, progress.total ?? null);
  }

  /** The POST answered: its validation's rows are all done. */
  finish(deployment: Deployment): void {
    const rows = deployment.validation?.rows;
    if (typeof rows === "number") this.report(rows, rows);
  }

  private report(done: number, total: number | null): void {
    if (this.last) {
      done = Math.max(done, this.last[0]);
      if (done === this.last[0] && total === this.last[1]) return;
    }
    this.last = [done, total];
    this.onProgress(done, total);
  }
}
