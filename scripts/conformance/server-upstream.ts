/**
 * Our own upstream for the MCP conformance suite's server scenarios, written
 * from the scenarios' descriptions and check messages: the tools, prompts and
 * resources they call by name. A stateful Streamable HTTP server on
 * 127.0.0.1 with Host / Origin validation (DNS-rebinding protection), one
 * low-level SDK `Server` per session. With `part`, one of several disjoint
 * shares of the tools, prompts and resources (to run the suite through a proxy
 * with several gateways and merged names).
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  type GetPromptResult,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { checkHostAndOrigin, LOOPBACK_HOSTS } from 'mcp-upstream-registry/bridge';

/** A 1x1 red PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==';
/** A WAV header with no samples. */
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=';

const empty = { type: 'object' as const, properties: {} };
const TOOLS = [
  { name: 'test_simple_text', description: 'Returns simple text', inputSchema: empty },
  { name: 'test_image_content', description: 'Returns an image', inputSchema: empty },
  { name: 'test_audio_content', description: 'Returns audio', inputSchema: empty },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource', inputSchema: empty },
  { name: 'test_multiple_content_types', description: 'Returns text, image and resource', inputSchema: empty },
  { name: 'test_tool_with_logging', description: 'Logs three messages while it runs', inputSchema: empty },
  { name: 'test_tool_with_progress', description: 'Reports progress 0, 50, 100 of 100', inputSchema: empty },
  { name: 'test_error_handling', description: 'Always fails', inputSchema: empty },
  {
    name: 'test_sampling',
    description: 'Asks the client to sample',
    inputSchema: { type: 'object' as const, properties: { prompt: { type: 'string' } }, required: ['prompt'] },
  },
  {
    name: 'test_elicitation',
    description: 'Asks the user for a username and email',
    inputSchema: { type: 'object' as const, properties: { message: { type: 'string' } }, required: ['message'] },
  },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults of every primitive type', inputSchema: empty },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with the five enum shapes', inputSchema: empty },
  { name: 'test_reconnection', description: 'Answers after a short pause', inputSchema: empty },
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object' as const,
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
  },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

type Extra = Parameters<Parameters<Server['setRequestHandler']>[1]>[1];

function elicitSchemaDefaults() {
  return {
    type: 'object' as const,
    properties: {
      name: { type: 'string' as const, default: 'John Doe' },
      age: { type: 'integer' as const, default: 30 },
      score: { type: 'number' as const, default: 95.5 },
      status: { type: 'string' as const, enum: ['active', 'inactive', 'pending'], default: 'active' },
      verified: { type: 'boolean' as const, default: true },
    },
  };
}

function elicitSchemaEnums() {
  return {
    type: 'object' as const,
    properties: {
      untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
      titledSingle: {
        type: 'string',
        oneOf: [
          { const: 'value1', title: 'First Option' },
          { const: 'value2', title: 'Second Option' },
          { const: 'value3', title: 'Third Option' },
        ],
      },
      legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
      untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
      titledMulti: {
        type: 'array',
        items: {
          anyOf: [
            { const: 'value1', title: 'First Choice' },
            { const: 'value2', title: 'Second Choice' },
            { const: 'value3', title: 'Third Choice' },
          ],
        },
      },
    },
  };
}

async function callTool(name: string, args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> {
  switch (name) {
    case 'test_simple_text':
      return text('This is a simple text response for testing.');
    case 'test_image_content':
      return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] };
    case 'test_audio_content':
      return { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] };
    case 'test_embedded_resource':
      return {
        content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
      };
    case 'test_multiple_content_types':
      return {
        content: [
          { type: 'text', text: 'Multiple content types test:' },
          { type: 'image', data: PNG, mimeType: 'image/png' },
          { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } },
        ],
      };
    case 'test_tool_with_logging':
      for (const [i, message] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
        if (i > 0) await sleep(50);
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: message } });
      }
      return text('Tool with logging executed successfully');
    case 'test_tool_with_progress': {
      const progressToken = extra._meta?.progressToken;
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
        }
      }
      return text('Tool with progress executed successfully');
    }
    case 'test_error_handling':
      return { isError: true, content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }] };
    case 'test_sampling': {
      const result = await extra.sendRequest(
        { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }], maxTokens: 100 } },
        CreateMessageResultSchema,
      );
      const content = result.content as { type: string; text?: string };
      return text(`LLM response: ${content.type === 'text' ? content.text : JSON.stringify(content)}`);
    }
    case 'test_elicitation': {
      const result = await extra.sendRequest(
        {
          method: 'elicitation/create',
          params: {
            message: String(args.message),
            requestedSchema: {
              type: 'object',
              properties: {
                username: { type: 'string', description: "User's response" },
                email: { type: 'string', description: "User's email address" },
              },
              required: ['username', 'email'],
            },
          },
        },
        ElicitResultSchema,
      );
      return text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
    }
    case 'test_elicitation_sep1034_defaults':
    case 'test_elicitation_sep1330_enums': {
      const requestedSchema = name === 'test_elicitation_sep1034_defaults' ? elicitSchemaDefaults() : elicitSchemaEnums();
      const result = await extra.sendRequest(
        { method: 'elicitation/create', params: { message: 'Please review and accept', requestedSchema } as never },
        ElicitResultSchema,
      );
      return text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
    }
    case 'test_reconnection':
      await sleep(100);
      return text('Reconnection test completed successfully');
    case 'json_schema_2020_12_tool':
      return text(`Received ${JSON.stringify(args)}`);
    default:
      throw new McpError(-32602, `Unknown tool: ${name}`);
  }
}

const PROMPTS = [
  { name: 'test_simple_prompt', description: 'A simple prompt without arguments' },
  {
    name: 'test_prompt_with_arguments',
    description: 'A prompt with two required arguments',
    arguments: [
      { name: 'arg1', description: 'First test argument', required: true },
      { name: 'arg2', description: 'Second test argument', required: true },
    ],
  },
  {
    name: 'test_prompt_with_embedded_resource',
    description: 'A prompt that embeds a resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
  },
  { name: 'test_prompt_with_image', description: 'A prompt with an image' },
];

function getPrompt(name: string, args: Record<string, string>): GetPromptResult {
  switch (name) {
    case 'test_simple_prompt':
      return { messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] };
    case 'test_prompt_with_arguments':
      return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` } }] };
    case 'test_prompt_with_embedded_resource':
      return {
        messages: [
          { role: 'user', content: { type: 'resource', resource: { uri: String(args.resourceUri), mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
          { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
        ],
      };
    case 'test_prompt_with_image':
      return {
        messages: [
          { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
          { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
        ],
      };
    default:
      throw new McpError(-32602, `Unknown prompt: ${name}`);
  }
}

const RESOURCES = [
  { uri: 'test://static-text', name: 'static-text', description: 'A static text resource', mimeType: 'text/plain' },
  { uri: 'test://static-binary', name: 'static-binary', description: 'A static binary resource', mimeType: 'image/png' },
  { uri: 'test://watched-resource', name: 'watched-resource', description: 'A resource to subscribe to', mimeType: 'text/plain' },
];

function readResource(uri: string) {
  if (uri === 'test://static-text') {
    return { contents: [{ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] };
  }
  if (uri === 'test://static-binary') return { contents: [{ uri, mimeType: 'image/png', blob: PNG }] };
  if (uri === 'test://watched-resource') return { contents: [{ uri, mimeType: 'text/plain', text: 'Watched resource content.' }] };
  const match = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
  if (match) {
    const id = match[1] as string;
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
  }
  throw new McpError(-32002, `Resource not found: ${uri}`);
}

/** Which share of the fixture a server offers: item `i` of a list belongs to part `i % of`. */
export interface FixturePart {
  readonly index: number;
  readonly of: number;
}

const TEMPLATES = [{ uriTemplate: 'test://template/{id}/data', name: 'template', description: 'Data by id', mimeType: 'application/json' }];

/** The items of `list` in `part` (all without a part). The template goes to the last part, so that it routes by template. */
function share<T>(list: readonly T[], part: FixturePart | undefined, offset = 0): T[] {
  return part === undefined ? [...list] : list.filter((_, i) => (i + offset) % part.of === part.index);
}

function refuseOthers<T>(offered: readonly T[], key: (item: T) => string, name: string, error: () => McpError): void {
  if (!offered.some((item) => key(item) === name)) throw error();
}

/** One session's server. */
function buildServer(part?: FixturePart): Server {
  const tools = share(TOOLS, part);
  const prompts = share(PROMPTS, part);
  const resources = share(RESOURCES, part);
  const templates = share(TEMPLATES, part, part === undefined ? 0 : part.of - 1);
  const notMine = (uri: string) => () => new McpError(-32002, `Resource not found: ${uri}`);
  const server = new Server(
    { name: 'conformance-upstream', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        completions: {},
        logging: {},
      },
      instructions: 'The conformance suite’s test tools, prompts and resources.',
    },
  );
  const subscribed = new Set<string>();
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const { name } = request.params;
    refuseOthers(tools, (t) => t.name, name, () => new McpError(-32602, `Unknown tool: ${name}`));
    return callTool(name, request.params.arguments ?? {}, extra);
  });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const { name } = request.params;
    refuseOthers(prompts, (p) => p.name, name, () => new McpError(-32602, `Unknown prompt: ${name}`));
    return getPrompt(name, request.params.arguments ?? {});
  });
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: templates }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const templated = uri.startsWith('test://template/') && templates.length > 0;
    if (!templated) refuseOthers(resources, (r) => r.uri, uri, notMine(uri));
    return readResource(uri);
  });
  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    refuseOthers(resources, (r) => r.uri, request.params.uri, notMine(request.params.uri));
    subscribed.add(request.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    refuseOthers(resources, (r) => r.uri, request.params.uri, notMine(request.params.uri));
    subscribed.delete(request.params.uri);
    return {};
  });
  server.setRequestHandler(CompleteRequestSchema, async (request) => {
    const { ref } = request.params;
    if (ref.type === 'ref/prompt') refuseOthers(prompts, (p) => p.name, ref.name, () => new McpError(-32602, `Unknown prompt: ${ref.name}`));
    const prefix = request.params.argument.value;
    const values = ['paris', 'park', 'party', 'test', 'testing'].filter((v) => v.startsWith(prefix));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  server.setRequestHandler(SetLevelRequestSchema, async () => ({}));
  return server;
}

/** A running conformance upstream. */
export interface ConformanceUpstream {
  readonly url: string;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Starts the upstream on 127.0.0.1 (`port` 0: any free port), offering everything or one `part`. */
export async function startConformanceUpstream(options: { port?: number; part?: FixturePart } = {}): Promise<ConformanceUpstream> {
  const { port = 0, part } = options;
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = checkHostAndOrigin(req.headers, { allowedHosts: LOOPBACK_HOSTS });
    if (refused) return reply(res, refused.status, refused.body);
    const id = req.headers['mcp-session-id'];
    if (typeof id === 'string') {
      const transport = sessions.get(id);
      if (transport === undefined) return reply(res, 404, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } });
      return transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return reply(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Missing session id' } });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await buildServer(part).connect(transport);
    await transport.handleRequest(req, res);
    if (transport.sessionId === undefined) await transport.close();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { jsonrpc: '2.0', id: null, error: { code: -32603, message: String(error) } });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
