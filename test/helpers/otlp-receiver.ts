import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import protobuf from "protobufjs";

/**
 * The part of opentelemetry-proto's trace service this receiver decodes, written from the
 * published field numbers (collector/trace/v1, trace/v1, common/v1, resource/v1). Decoding with
 * protobufjs here is independent of the encoder Warden uses.
 */
const traceProto = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; repeated Event events = 11; Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const requestType = protobuf.parse(traceProto).root.lookupType("otlp.ExportTraceServiceRequest");

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNanos: bigint;
  endNanos: bigint;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code: number; message: string };
  service: unknown;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  requests: { contentType: string; bytes: number }[];
  /** Answer the next `count` requests with this status (to test retries). */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

function anyValue(value: Json | undefined): unknown {
  if (value === undefined || value === null) return undefined;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return value.doubleValue;
  if ("arrayValue" in value)
    return (((value.arrayValue as Json).values as Json[] | undefined) ?? []).map((item) => anyValue(item));
  return undefined;
}

function attributesOf(list: Json[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((item) => [item.key as string, anyValue(item.value as Json)]));
}

const hex = (value: unknown) =>
  value instanceof Uint8Array ? Buffer.from(value).toString("hex") : typeof value === "string" ? value : "";

/** Flattens a decoded request (protobuf or JSON, which share field names in camelCase). */
function spansOf(request: Json, idsAreHex: boolean): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of (request.resourceSpans as Json[] | undefined) ?? []) {
    const resource = attributesOf((resourceSpans.resource as Json | undefined)?.attributes as Json[]);
    for (const scopeSpans of (resourceSpans.scopeSpans as Json[] | undefined) ?? []) {
      for (const span of (scopeSpans.spans as Json[] | undefined) ?? []) {
        const id = (value: unknown) => (idsAreHex ? String(value ?? "") : hex(value));
        spans.push({
          traceId: id(span.traceId),
          spanId: id(span.spanId),
          parentSpanId: id(span.parentSpanId),
          name: span.name as string,
          kind: Number(span.kind ?? 0),
          startNanos: BigInt(String(span.startTimeUnixNano ?? 0)),
          endNanos: BigInt(String(span.endTimeUnixNano ?? 0)),
          attributes: attributesOf(span.attributes as Json[]),
          events: ((span.events as Json[] | undefined) ?? []).map((event) => ({
            name: event.name as string,
            attributes: attributesOf(event.attributes as Json[]),
          })),
          status: {
            code: Number((span.status as Json | undefined)?.code ?? 0),
            message: String((span.status as Json | undefined)?.message ?? ""),
          },
          service: resource["service.name"],
        });
      }
    }
  }
  return spans;
}

/** A local OTLP/HTTP traces receiver that decodes what arrives (protobuf or JSON). */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: { contentType: string; bytes: number }[] = [];
  let failures = { count: 0, status: 503 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const contentType = String(request.headers["content-type"] ?? "");
      requests.push({ contentType, bytes: body.length });
      if (request.url !== "/v1/traces" || request.method !== "POST") {
        response.writeHead(404).end();
        return;
      }
      if (failures.count > 0) {
        failures = { ...failures, count: failures.count - 1 };
        response.writeHead(failures.status).end("try later");
        return;
      }
      try {
        if (contentType.startsWith("application/x-protobuf")) {
          const decoded = requestType.toObject(requestType.decode(body), {
            longs: String,
            bytes: Uint8Array,
          });
          spans.push(...spansOf(decoded as Json, false));
        } else {
          spans.push(...spansOf(JSON.parse(body.toString("utf8")) as Json, true));
        }
        response
          .writeHead(200, { "content-type": contentType })
          .end(contentType.includes("json") ? "{}" : "");
      } catch (error) {
        response.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    requests,
    failNext(count, status) {
      failures = { count, status };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
