import type { Reporter, TestCase, TestModule } from 'vitest/node';

declare module 'vitest' {
  interface TaskMeta {
    /** Why a suite or test skipped with `describe.skipIf` / `it.skipIf` is skipped (printed at the end). */
    skipReason?: string;
  }
}

/**
 * Prints one line per skipped test with its reason at the end of the run (vitest's own reporter
 * only counts them). The reason is the note of `ctx.skip(reason)`, or `meta.skipReason` on the
 * test or an enclosing suite (`describe.skipIf(cond)(name, { meta: { skipReason } }, fn)`). A
 * skip without a reason is printed as such, so it gets one.
 */
export default class SkipReasons implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
    const lines: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped' || test.options.mode === 'todo') continue;
        // Not run because a hook of its suite failed: that failure is reported already.
        if (!result.note && test.options.mode !== 'skip') continue;
        lines.push(`  ${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}: ${reasonOf(test)}`);
      }
    }
    if (!lines.length) return;
    process.stdout.write(`\nSkipped (${lines.length}), with the reason:\n${lines.join('\n')}\n`);
  }
}

function reasonOf(test: TestCase): string {
  const result = test.result();
  if (result.state === 'skipped' && result.note) return result.note;
  if (test.meta().skipReason) return test.meta().skipReason!;
  for (let suite = test.parent; suite.type === 'suite'; suite = suite.parent) {
    if (suite.meta().skipReason) return suite.meta().skipReason!;
  }
  return '(no reason given)';
}
