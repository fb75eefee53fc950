/**
 * The API's shapes, named for the client: aliases of the types openapi-typescript generated from
 * `GET /openapi.json` (src/generated/), so the client and the server can't drift apart unnoticed.
 */
import type { components } from "./generated/openapi.js";
import type { BlueprintOutputs } from "./generated/outputs.js";

type S = components["schemas"];

export type { BlueprintOutputs, components };
/** A blueprint of the archive, as `listBlueprints` lists it. */
export type Blueprint = S["BlueprintSummary"];
/** A blueprint's inputs, parameters, output, label and measured performance. */
export type BlueprintDetails = S["BlueprintDetails"];
/** An uploaded dataset: its id (what `analyzeData` and `deploy` take), size and columns' kinds. */
export type Dataset = S["DatasetResponse"];
/** A dataset as `listDatasets` lists it (`columns` is a count). */
export type DatasetSummary = S["DatasetSummary"];
/** One blueprint's fit to a dataset: `{blueprint, compatibility, reason}` and the mapping it found. */
export type Suggestion = S["Suggestion"];
/** A deployment as `GET /deployments/{id}` answers: spec, live version, status, validation. */
export type Deployment = S["DeploymentResponse"];
/** How far a deployment's creation has come: `{deployment, phase, done, total}`. */
export type DeploymentProgress = S["DeploymentProgress"];
/** A deployment as `listDeployments` lists it. */
export type DeploymentSummary = S["DeploymentSummary"];
/** One model version of a deployment. */
export type ModelVersion = S["ModelVersion"];
/** The body of `POST /deployments` (the client builds it from `deploy`'s config). */
export type DeployRequest = S["DeployRequest"];
/** A blueprint parameter's value. */
export type ParamValue = DeployRequest["params"] extends Record<string, infer V> | undefined ? V : never;
/** The worker's health. */
export type Health = S["HealthResponse"];
/** Every error's body. */
export type ErrorBody = S["ErrorBody"];

/** The ids of the blueprints the types were generated with (others still work, typed loosely). */
export type BlueprintId = keyof BlueprintOutputs;
/** A blueprint id, with the known ones suggested by the editor. */
export type AnyBlueprintId = BlueprintId | (string & {});
/** A blueprint's prediction output: its own schema for a known blueprint, else any JSON object. */
export type Output<B extends string = BlueprintId> = string extends B
  ? BlueprintOutputs[BlueprintId] | Record<string, unknown>
  : B extends BlueprintId
    ? BlueprintOutputs[B]
    : Record<string, unknown>;
/** One prediction: the blueprint's typed `output`, the model version that made it, its key, its score. */
export type Prediction<B extends string = BlueprintId> = Omit<S["PredictResponse"], "output" | "blueprint"> & {
  blueprint: B;
  output: Output<B>;
};
/** A flat row, in the column names of the deployment's data. */
export type Row = Record<string, string | number | boolean | null>;

/** A composite (issue 21): deployments that share an entity, combined under an objective. */
export type Composite = S["CompositeResponse"];
/** A composite's decision for one entity: the seed's `recommended_protocols`, `risk_assessment` and
 * `optimal_price_point`, with where each component's output came from (`scored_from`). */
export type CompositeAnalysis = S["CompositeAnalysis"];
/** The body of `POST /composites`. */
export type CompositeSpec = S["CompositeSpec"];
