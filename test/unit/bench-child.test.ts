import { expect } from 'chai';
import { WORKER_PROCESS_ENV } from '../../functions/core/definitions';
import { runOnce, without } from '../../bench/lib/child';
import { HANDLER_OPTIONS } from '../../bench/pipeline-options';

const ECHO = '../test/fixtures/env-echo-child.ts';

describe('bench children', () => {
  const names = Object.keys(WORKER_PROCESS_ENV);
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    // As if the bench itself were started the way the function app is.
    Object.assign(process.env, WORKER_PROCESS_ENV);
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });

  it('inherit our environment, with what they are given added', async () => {
    const seen = await runOnce<Record<string, string | null>>(ECHO, ['DIRECTDROP_BENCH_ECHO'], {
      DIRECTDROP_BENCH_ECHO: 'given',
    });
    expect(seen).to.deep.equal({ DIRECTDROP_BENCH_ECHO: 'given' });
    expect(await runOnce(ECHO, names)).to.deep.equal(WORKER_PROCESS_ENV);
  });

  it("start without the worker's environment when told to, even though ours has it", async () => {
    const seen = await runOnce(ECHO, names, without(WORKER_PROCESS_ENV));
    expect(seen).to.deep.equal(Object.fromEntries(names.map((name) => [name, null])));
  });

  it("run the pipeline-options bench's default-arenas handler without MALLOC_ARENA_MAX", async () => {
    const option = HANDLER_OPTIONS.find((o) => /default malloc arenas/.test(o.name));
    const seen = await runOnce(ECHO, ['MALLOC_ARENA_MAX'], option?.env);
    expect(seen).to.deep.equal({ MALLOC_ARENA_MAX: null });
  });
});
