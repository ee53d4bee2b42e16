/**
 * The Workers entry of the runtime smoke: `GET /?url=…` runs the counter
 * scenario against that upstream with the built root entry, and answers the
 * outcome as JSON (500 with the error otherwise). Bundled by esbuild for workerd.
 */
import * as registryModule from '../../dist/index.js';
import { runCounterScenario } from './scenario.mjs';

export default {
  async fetch(request) {
    const url = new URL(request.url).searchParams.get('url');
    try {
      return Response.json(await runCounterScenario(registryModule, url));
    } catch (error) {
      return new Response(String(error?.stack ?? error), { status: 500 });
    }
  },
};
