import type { Attributes } from '@opentelemetry/api';
import type { TransportType } from '../request.js';
import type { SessionInfo } from '../session.js';
import type * as T from '../telemetry.js';
import { ATTR } from './names.js';

/** `network.transport` of an MCP transport: `pipe` for stdio, `tcp` for the HTTP ones. */
export function networkTransport(transport: TransportType | string): string {
  return transport === 'stdio' ? 'pipe' : 'tcp';
}

/** Gateway, transport and `network.transport`: the base attributes of every registry metric. */
export function subjectAttributes(subject: T.TelemetrySubject): Attributes {
  return {
    [ATTR.gatewayId]: subject.gatewayId,
    [ATTR.transport]: subject.transport,
    [ATTR.networkTransport]: networkTransport(subject.transport),
  };
}

/** Span attributes of one upstream session: the subject plus its connection number, never the downstream id. */
export function sessionSpanAttributes(session: SessionInfo): Attributes {
  return { ...subjectAttributes(session), [ATTR.connectionId]: session.connectionId };
}

/** `{mcp.method.name} {target}`, or the method alone when there is no low-cardinality target. */
export function mcpSpanName(method: string, target?: string): string {
  return target === undefined || target === '' ? method : `${method} ${target}`;
}

/** Attributes of an MCP client operation, shared by its span and its `mcp.client.operation.duration` point. */
export function operationAttributes(op: T.McpOperation): Attributes {
  const attributes: Attributes = {
    [ATTR.mcpMethodName]: op.method,
    [ATTR.networkTransport]: networkTransport(op.transport),
    [ATTR.gatewayId]: op.gatewayId,
  };
  if (op.target !== undefined && op.target !== '') {
    if (op.method === 'tools/call') attributes[ATTR.genAiToolName] = op.target;
    else if (op.method === 'prompts/get') attributes[ATTR.genAiPromptName] = op.target;
  }
  return attributes;
}
