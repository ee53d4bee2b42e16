/**
 * Downstream SDK clients for the end-to-end tests of the example proxies:
 * each records the notifications it receives and answers server-to-client
 * requests with the handlers it was given.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  type CreateMessageResult,
  ElicitRequestSchema,
  type ElicitResult,
  ListRootsRequestSchema,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';

/** A connected downstream client. */
export interface TestClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** The downstream session id the proxy gave it. */
  readonly sessionId: string;
  /** Every notification received, in order. */
  readonly notifications: ServerNotification[];
  /** Questions of the elicitation requests it received. */
  readonly elicitations: string[];
  /** Resolves with the first notification (past or future) that matches. */
  waitForNotification(predicate: (n: ServerNotification) => boolean): Promise<ServerNotification>;
  close(): Promise<void>;
}

/** How a test client answers server-to-client requests; each given handler also declares its capability. */
export interface TestClientOptions {
  /** Answers `elicitation/create` with `{ action: 'accept', content: { answer } }`. */
  answer?: string;
  /** Answers `sampling/createMessage` with this text. */
  sample?: string;
  /** Answers `roots/list` with these URIs. */
  roots?: string[];
}

export async function connectClient(url: string, options: TestClientOptions = {}): Promise<TestClient> {
  const capabilities: ClientCapabilities = {};
  if (options.answer !== undefined) capabilities.elicitation = {};
  if (options.sample !== undefined) capabilities.sampling = {};
  if (options.roots !== undefined) capabilities.roots = { listChanged: true };
  const client = new Client({ name: 'e2e-client', version: '1.0.0' }, { capabilities });
  const notifications: ServerNotification[] = [];
  const elicitations: string[] = [];
  const waiters = new Set<{ predicate: (n: ServerNotification) => boolean; resolve: (n: ServerNotification) => void }>();
  client.fallbackNotificationHandler = async (notification) => {
    const n = notification as ServerNotification;
    notifications.push(n);
    for (const waiter of [...waiters]) {
      if (!waiter.predicate(n)) continue;
      waiters.delete(waiter);
      waiter.resolve(n);
    }
  };
  if (options.answer !== undefined) {
    const answer = options.answer;
    client.setRequestHandler(ElicitRequestSchema, async (request): Promise<ElicitResult> => {
      elicitations.push(request.params.message);
      return { action: 'accept', content: { answer } };
    });
  }
  if (options.sample !== undefined) {
    const text = options.sample;
    client.setRequestHandler(
      CreateMessageRequestSchema,
      async (): Promise<CreateMessageResult> => ({ role: 'assistant', model: 'test', content: { type: 'text', text } }),
    );
  }
  if (options.roots !== undefined) {
    const roots = options.roots.map((uri) => ({ uri }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
  }
  // Events carry ids (resumable streams), so the SDK client would reconnect a
  // stream the proxy ends on shutdown, on a timer it may lose track of
  // (one field for several streams). These tests never resume: no reconnects.
  const transport = new StreamableHTTPClientTransport(new URL(url), { reconnectionOptions: NO_RECONNECT });
  await client.connect(transport);
  return {
    client,
    transport,
    sessionId: transport.sessionId as string,
    notifications,
    elicitations,
    waitForNotification(predicate) {
      const past = notifications.find(predicate);
      if (past !== undefined) return Promise.resolve(past);
      return new Promise((resolve) => waiters.add({ predicate, resolve }));
    },
    close: () => client.close(),
  };
}

/** The first reconnect attempt is already past the limit. */
const NO_RECONNECT = {
  maxRetries: 0,
  initialReconnectionDelay: 1_000,
  maxReconnectionDelay: 1_000,
  reconnectionDelayGrowFactor: 1,
} as const;

/** The text of the first content block of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  const first = content?.[0];
  if (first?.type !== 'text' || first.text === undefined) throw new Error(`not a text result: ${JSON.stringify(result)}`);
  return first.text;
}
