import assert from "node:assert/strict";
import { test } from "node:test";
import { HeadPublication } from "../../src/registry/head-publication.js";

/** A publish function whose calls the test ends one by one. */
function publications() {
  const calls: { finish: (error?: Error) => void }[] = [];
  const publish = () => new Promise<void>((resolve, reject) => calls.push({ finish: (error) => (error ? reject(error) : resolve()) }));
  return { calls, publish };
}

test("commits landing while a publication runs are covered by one more, started when it ends", async () => {
  const { calls, publish } = publications();
  const ended: string[] = [];
  const publication = new HeadPublication({
    publish,
    observer: { published: (seconds) => ended.push(seconds >= 0 ? "published" : "negative"), failed: () => ended.push("failed") },
    gapMs: 0,
  });
  assert.equal(publication.covering(), null, "nothing under way before a commit");
  publication.committed();
  assert.equal(calls.length, 1, "the first commit starts one at once");
  const running = publication.covering()!;
  for (let i = 0; i < 5; i++) publication.committed();
  assert.equal(calls.length, 1, "at most one runs");
  const following = publication.covering()!;
  assert.notEqual(following, running, "a read after those commits waits for the queued one");

  let coveredByRunning = false;
  void running.then(() => (coveredByRunning = true));
  let coveredByFollowing = false;
  void following.then(() => (coveredByFollowing = true));
  calls[0]!.finish();
  await running;
  assert.equal(coveredByFollowing, false);
  assert.equal(calls.length, 2, "one more covers the five commits");
  calls[1]!.finish();
  await following;
  assert.ok(coveredByRunning && coveredByFollowing);
  assert.equal(publication.covering(), null);
  assert.deepEqual(ended, ["published", "published"]);
});

test("a failed publication settles its waiters without rejecting, is reported, and the next commit starts another", async () => {
  const { calls, publish } = publications();
  const failures: unknown[] = [];
  const publication = new HeadPublication({ publish, observer: { published: () => {}, failed: (error) => failures.push(error) }, gapMs: 0 });
  publication.committed();
  const waiting = publication.covering()!;
  calls[0]!.finish(new Error("ENOSPC"));
  await waiting;
  assert.deepEqual(
    failures.map((error) => (error as Error).message),
    ["ENOSPC"],
  );
  assert.equal(publication.covering(), null, "a read does not start one");
  publication.committed();
  assert.equal(calls.length, 2);
  calls[1]!.finish();
  await publication.covering();
  assert.equal(failures.length, 1);
});

test("a publish function that throws before its first await fails like one that rejects", async () => {
  const failures: unknown[] = [];
  const publication = new HeadPublication({
    publish: () => {
      throw new Error("refusing to sign a tree head inside an open database transaction");
    },
    observer: { published: () => {}, failed: (error) => failures.push(error) },
    gapMs: 0,
  });
  publication.committed();
  await publication.covering();
  assert.equal(failures.length, 1);
  assert.equal(publication.covering(), null);
});

test("while nobody reads, a commit soon after a publication waits for the gap; a read brings the queued publication forward", async () => {
  const { calls, publish } = publications();
  const publication = new HeadPublication({ publish, observer: { published: () => {}, failed: () => {} }, gapMs: 3_600_000 });
  publication.committed();
  assert.equal(calls.length, 1, "an idle registry publishes at once");
  calls[0]!.finish();
  await publication.covering();
  publication.committed();
  publication.committed();
  assert.equal(calls.length, 1, "the next waits for the gap, covering both commits");
  const read = publication.covering()!;
  assert.equal(calls.length, 2, "a read that needs it starts it now");
  publication.committed();
  assert.equal(calls.length, 2, "one runs at a time");
  calls[1]!.finish();
  await read;
  assert.equal(calls.length, 2, "the commit queued meanwhile waits for the gap too");
  const waiting = publication.covering()!;
  assert.equal(calls.length, 3);
  publication.committed();
  const next = publication.covering()!;
  calls[2]!.finish();
  await waiting;
  assert.equal(calls.length, 4, "a read waiting behind the running one gets the queued one started as soon as it ends");
  calls[3]!.finish();
  await next;
  publication.committed();
  publication.stop();
  assert.equal(calls.length, 4);
});
