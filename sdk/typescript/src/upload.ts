/**
 * Upload bodies: a path (Node, streamed from disk), a `File`/`Blob` (browser or Node), or bytes.
 * Each can be sent again on a retry. With `onProgress`, a runtime with `XMLHttpRequest` (a browser)
 * sends the `Blob` with it and reports its upload progress events (fetch can't stream a request
 * body over HTTP/1.1 there); elsewhere (Node) the body is streamed in chunks, each reported.
 */

/** `onProgress(sentBytes, totalBytes)`, called as an upload goes out. */
export type Progress = (sent: number, total: number) => void;
/** What `uploadData` takes: a path (Node), a `File` or `Blob`, or the bytes. */
export type UploadSource = string | Blob | Uint8Array | ArrayBuffer;

export interface UploadOptions {
  /** A name to show for the dataset (default: the file's name). */
  name?: string;
  /** The content type (default: from the name's suffix, e.g. `.csv` -> `text/csv`). */
  contentType?: string;
  onProgress?: Progress;
}

const TYPES: Record<string, string> = {
  csv: "text/csv",
  tsv: "text/tab-separated-values",
  jsonl: "application/x-ndjson",
  ndjson: "application/x-ndjson",
  parquet: "application/vnd.apache.parquet",
};
const CHUNK = 1 << 18;
const IS_NODE = typeof process !== "undefined" && typeof process.versions?.node === "string";

export function contentTypeOf(name: string | undefined): string {
  const suffix = name?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  return (suffix && TYPES[suffix]) || "application/octet-stream";
}

/** One prepared upload: its name, type, size, and a fresh body for each attempt. */
export interface PreparedUpload {
  name: string | undefined;
  contentType: string;
  size: number;
  /** A new body (a stream reporting progress, or the Blob) and whether it is a stream. */
  body(onProgress?: Progress): Promise<{ body: BodyInit; stream: boolean }>;
}

export async function prepare(source: UploadSource, options: UploadOptions = {}): Promise<PreparedUpload> {
  if (typeof source === "string") {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const { Readable } = await import("node:stream");
    const size = (await fs.promises.stat(source)).size;
    const name = options.name ?? path.basename(source);
    return {
      name,
      contentType: options.contentType ?? contentTypeOf(name),
      size,
      body: async (onProgress) => {
        const file = Readable.toWeb(fs.createReadStream(source, { highWaterMark: CHUNK }));
        return { body: counted(file as ReadableStream<Uint8Array>, size, onProgress), stream: true };
      },
    };
  }
  const blob = source instanceof Blob ? source : new Blob([source as BlobPart]);
  const name = options.name ?? (typeof File !== "undefined" && source instanceof File ? source.name : undefined);
  return {
    name,
    contentType: options.contentType ?? (blob.type || contentTypeOf(name)),
    size: blob.size,
    body: async (onProgress) => {
      if (onProgress && !hasXhr() && IS_NODE) return { body: counted(blob.stream(), blob.size, onProgress), stream: true };
      return { body: blob, stream: false };
    },
  };
}

function counted(stream: ReadableStream<Uint8Array>, total: number, onProgress?: Progress): ReadableStream<Uint8Array> {
  if (!onProgress) return stream;
  let sent = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        sent += chunk.byteLength;
        onProgress(sent, total);
      },
    }),
  );
}

/** Whether uploads with progress go through `XMLHttpRequest` (browsers have it, Node doesn't). */
export function hasXhr(): boolean {
  return typeof XMLHttpRequest !== "undefined";
}

/** `fetch` for one upload, through `XMLHttpRequest` so that its upload progress is reported. */
export function xhrFetch(url: string, init: RequestInit, onProgress: Progress): Promise<Response> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method ?? "POST", url);
    for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) xhr.setRequestHeader(name, value);
    xhr.responseType = "text";
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : (init.body as Blob).size);
    xhr.onload = () => {
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const at = line.indexOf(":");
        if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      resolve(new Response(xhr.status === 204 ? null : xhr.responseText, { status: xhr.status, headers }));
    };
    xhr.onerror = () => reject(new TypeError("network error"));
    const abort = () => reject(init.signal?.reason ?? new DOMException("aborted", "AbortError"));
    xhr.onabort = abort;
    init.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(init.body as Blob);
  });
}
