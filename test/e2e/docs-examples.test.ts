/**
 * The shell examples of README.md and docs/local-mode.md, taken from the Markdown as a
 * reader copies them and run as printed with bash against a local mode this test starts
 * (with its default sign-in), in a folder holding the files they name.
 *
 * Convention: every ```bash (or ```sh / ```shell) block is an example that talks to local
 * mode and must pass, unless its info string says why not with `skip=<reason>`:
 *   ```bash skip=azure           needs an Azure subscription (az, pulumi)
 *   ```bash skip=setup           installs or starts things (npm ci, npm start, npm test, Node)
 *   ```bash skip=own-local-mode  starts a local mode of its own on the default ports
 *   ```bash skip=core-tools      needs Azure Functions Core Tools
 * The one change made to the text: local mode's default address http://localhost:7071 is
 * replaced with the test's (free ports, so it never meets a developer's own local mode).
 * A block passes when bash exits 0, nothing printed is an API error body, and a block that
 * polls a status ends `processed`.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { type LocalMode, startLocalMode } from '../integration/client-local-mode';

const REPO_ROOT = resolve(__dirname, '../..');
const DOCS = ['README.md', 'docs/local-mode.md'];
const SHELLS = new Set(['bash', 'sh', 'shell']);

interface Example {
  doc: string;
  line: number;
  info: string;
  script: string;
}

/** Fenced code blocks whose language is a shell, with their info strings. */
function shellExamples(doc: string, markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (SHELLS.has(open[1])) {
      examples.push({
        doc,
        line: i + 1,
        info: open[2].trim(),
        script: lines.slice(i + 1, end).join('\n'),
      });
    }
    i = end;
  }
  return examples;
}

function bash(script: string, cwd: string, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((done, fail) => {
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_offline: 'true' };
    // Whatever the developer has set must not stand in for what the example sets itself.
    for (const name of Object.keys(env)) if (name.startsWith('DIRECTDROP_')) delete env[name];
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('the docs’ shell examples, run as printed against local mode', function () {
  this.timeout(180_000);
  let local: LocalMode;
  let folder: string;
  const examples: Example[] = [];

  before(async function () {
    for (const doc of DOCS) {
      examples.push(...shellExamples(doc, await readFile(join(REPO_ROOT, doc), 'utf8')));
    }
    // Inside the repository (test-results/ is git-ignored), so `npx directdrop` finds its bin.
    await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
    folder = await mkdtemp(join(REPO_ROOT, 'test-results', 'docs-examples-'));
    const [started] = await Promise.all([
      startLocalMode({ signIn: true }),
      (async () => {
        const photo = await sidewaysPhotoWithGps(900, 600);
        await mkdir(join(folder, 'photos'));
        for (const name of ['photo.jpg', 'cat.jpg', 'photos/a.jpg', 'photos/b.jpg']) {
          await writeFile(join(folder, name), photo);
        }
      })(),
      // `npx directdrop upload` runs the client's compiled CLI.
      bash('npm run build --workspace @directdrop/client', REPO_ROOT, 120_000).then((r) => {
        if (r.code !== 0) throw new Error(r.output);
      }),
    ]);
    local = started;
  });
  after(async function () {
    await local?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('finds the examples, each either run or marked with why not', function () {
    const run = examples.filter((e) => !/\bskip=/.test(e.info));
    expect(run.map((e) => e.doc)).to.include.members(DOCS);
    for (const e of examples) {
      expect(e.info, `${e.doc}:${e.line}`).to.match(
        /^$|^skip=(azure|setup|own-local-mode|core-tools)$/,
      );
    }
  });

  for (const doc of DOCS) {
    it(`${doc}: every example that talks to local mode passes`, async function () {
      const failures: string[] = [];
      for (const example of examples.filter((e) => e.doc === doc && e.info === '')) {
        // The examples name npm start's defaults: its ports and its data folder.
        const script = example.script
          .replaceAll('http://localhost:7071', local.baseUrl)
          .replaceAll('http://127.0.0.1:10003', local.eventsBaseUrl)
          .replaceAll('.local/', `${local.dataDir}/`);
        const started = Date.now();
        const { code, output } = await bash(script, folder, 120_000);
        console.log(`      ${doc}:${example.line}: exit ${code} in ${Date.now() - started} ms`);
        const problems = [
          code !== 0 && `exit ${code}`,
          /"error"\s*:/.test(output) && 'printed an API error',
          /statusUrl/.test(script) &&
            !/"status":"processed"/.test(output) &&
            'the status never read processed',
        ].filter(Boolean);
        if (problems.length > 0) {
          failures.push(`${doc}:${example.line}: ${problems.join(', ')}\n${output}`);
        }
      }
      expect(failures, failures.join('\n\n')).to.deep.equal([]);
    });
  }
});
