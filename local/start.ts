/**
 * `npm start` (local host) and `npm run start:func` (Core Tools): see docs/local-mode.md.
 * Ctrl-C stops everything; a second Ctrl-C a moment later stops without waiting.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AlreadyRunningError } from './instance-lock';
import { LocalModeError, startLocalMode } from './local-mode';
import { consoleLogger, describeError } from './log';
import { UsageError, parseLocalModeArgs, usage } from './options';

const repoRoot = resolve(__dirname, '..');
/** npm and tsx can each re-deliver the terminal's Ctrl-C; repeats this close together are one press. */
const REPEATED_SIGNAL_MS = 1000;

async function main(): Promise<number> {
  const started = Date.now();
  const log = consoleLogger();
  let parsed;
  try {
    parsed = parseLocalModeArgs(process.argv.slice(2), process.env, process.cwd());
  } catch (error) {
    if (error instanceof UsageError) {
      log.error(error.message);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    console.log(usage());
    return 0;
  }
  const { options } = parsed;

  let running;
  try {
    running = await startLocalMode(options, repoRoot, process.env, log);
  } catch (error) {
    if (error instanceof AlreadyRunningError) {
      log.error(
        `directdrop local mode is already running (pid ${error.pid}) with data folder ${options.dataDir}.\n` +
          'Stop it with Ctrl-C in its terminal, or start another copy with its own --data folder and ports (see --help).',
      );
    } else if (error instanceof LocalModeError) log.error(error.message);
    else log.error(`Local mode failed to start: ${describeError(error)}`);
    return 1;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const what =
    options.role === 'storage'
      ? 'storage (Azurite and the Event Grid emulator)'
      : options.func
        ? 'func start; it lists the functions once it has started'
        : 'the local host';
  const half = options.role === 'all' ? '' : ` (${options.role})`;
  log.info(`directdrop local mode${half} is ready in ${seconds} s with ${what}. Ctrl-C stops it.`);

  const lockPath = join(options.dataDir, 'local-mode.lock');
  return new Promise<number>((done) => {
    let firstSignalAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (firstSignalAt === undefined) {
        firstSignalAt = now;
        log.info(
          `${signal}: stopping (running invocations get up to 10 s; Ctrl-C again to stop now)`,
        );
        running.stop().then(
          () => {
            log.info('Local mode stopped.');
            done(0);
          },
          (error) => {
            log.error(describeError(error));
            done(1);
          },
        );
      } else if (now - firstSignalAt > REPEATED_SIGNAL_MS) {
        log.warn(
          'Stopping now; unfinished queue messages reappear after their lease (up to 10 minutes).',
        );
        // Azurite stops itself when this process exits (see azurite.ts).
        rmSync(lockPath, { force: true });
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    running.ended.then(async (code) => {
      if (firstSignalAt !== undefined) return;
      log.info(`func exited with code ${code}; stopping local mode`);
      await running.stop();
      done(code);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(describeError(error));
    process.exit(1);
  },
);
