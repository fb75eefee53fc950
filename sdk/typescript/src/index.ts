export { CompositeModel, DEFAULT_URL, Model, TracerClient } from "./client.js";
export type { ClientOptions, DeployConfig } from "./client.js";
export * from "./errors.js";
export type * from "./types.js";
export type { Progress, UploadOptions, UploadSource } from "./upload.js";
export type { DeployProgress } from "./progress.js";
